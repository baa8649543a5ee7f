using System.IO.Compression;
using System.Text.Json.Nodes;
using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Data.Synthetic;
using CalRec.Models.Embeddings;
using CalRec.Recommenders;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.Persistence;
using CalRec.Recommenders.SasRec;

namespace CalRec.Recommenders.Tests;

[TestFixture]
public class RecContextTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "calrec-api-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    /// <summary>Item texts as brand one-hots: enough for the synthetic routines (the next item shares the brand).</summary>
    private sealed class BrandEncoder : ITextEncoder
    {
        private readonly string[] _brands;

        public BrandEncoder(IEnumerable<string> brands) => _brands = brands.Distinct().ToArray();

        public int Dimension => _brands.Length;

        public float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellation = default)
        {
            float[] v = new float[texts.Count * Dimension];
            for (int i = 0; i < texts.Count; i++)
            {
                int b = Array.FindIndex(_brands, x => texts[i].Contains($"brand: {x};", StringComparison.Ordinal));
                if (b >= 0)
                {
                    v[(i * Dimension) + b] = 1f;
                }
            }

            return v;
        }
    }

    private static (SyntheticCatalog Catalog, InteractionDataset Data) Synthetic(int users = 200) =>
        SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 11, UsersPerDomain = users }) is var c ? (c, c.ToDataset()) : default;

    private static float[] ScoresOf(RecommenderModel model, int[] history)
    {
        float[] s = new float[model.ItemCount];
        model.Score([history], s);
        return s;
    }

    [Test]
    public void EveryModelKindRoundTripsThroughTheZipWithIdenticalScores()
    {
        (SyntheticCatalog catalog, InteractionDataset data) = Synthetic();
        var ctx = new RecContext(seed: 3);
        var encoder = new BrandEncoder(catalog.Items.Select(i => i.Brand));
        var small = new SasRecTrainer.Options { Hidden = 16, MaxLength = 10, BatchSize = 64, MaxEpochs = 2, MinEpochs = 0, Seed = 3 };
        RecommenderModel[] models =
        [
            ctx.Trainers.MostPopular().Fit(data),
            ctx.Trainers.SasRec(small).Fit(data),
            ctx.Trainers.LlmSeqSim(encoder, SessionAggregation.HarmonicDecay).Fit(data),
            ctx.Trainers.Llm2SasRec(encoder, small).Fit(data),
        ];
        int[] history = new LeaveOneOutSplit(data).Test[0].History;
        foreach (RecommenderModel model in models)
        {
            string path = Path.Combine(_dir, model.Kind + ".zip");
            ctx.Model.Save(model, path);
            RecommenderModel back = ctx.Model.Load(path);
            Assert.That(back.Kind, Is.EqualTo(model.Kind));
            Assert.That(back.Catalog, Is.EqualTo(model.Catalog), "titles, attributes and domains survive");
            Assert.That(back.Training.Dataset, Is.EqualTo("synthetic"));
            Assert.That(back.Training.Settings, Is.EqualTo(model.Training.Settings));
            Assert.That(ScoresOf(back, history), Is.EqualTo(ScoresOf(model, history)), model.Kind);
            string[] ids = history.Select(i => data.Items[i].Id).ToArray();
            Assert.That(ctx.Model.CreateRecommender(back).Recommend(ids, 5), Is.EqualTo(ctx.Model.CreateRecommender(model).Recommend(ids, 5)));
        }

        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(models.Select(m => m.Kind + ".zip")), "no temporary files left");
    }

    [Test]
    public void TrainedModelsBeatPopularityOnTheStructuredSyntheticSet()
    {
        (SyntheticCatalog catalog, InteractionDataset data) = Synthetic(users: 400);
        var ctx = new RecContext(seed: 1);
        var eval = new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 200 };
        RecommendationMetrics pop = ctx.Ranking.Evaluate(ctx.Trainers.MostPopular().Fit(data), data, eval);
        RecommendationMetrics sim = ctx.Ranking.Evaluate(ctx.Trainers.LlmSeqSim(new BrandEncoder(catalog.Items.Select(i => i.Brand))).Fit(data), data, eval);
        TestContext.Out.WriteLine($"MostPopular {pop["ndcg@10"]}, LLMSeqSim {sim["ndcg@10"]}");
        Assert.That(sim.CompareNdcg(pop, 10).Low, Is.GreaterThan(0));
    }

    [Test]
    public void TransformIsLazyAndStreamsInBatches()
    {
        (_, InteractionDataset data) = Synthetic();
        var ctx = new RecContext();
        RecommenderModel pop = ctx.Trainers.MostPopular().Fit(data);
        int pulled = 0;
        IEnumerable<UserHistory> Endless()
        {
            for (int u = 0; ; u++)
            {
                pulled++;
                yield return new UserHistory($"u{u}", [data.Items[u % data.ItemCount].Id]);
            }
        }

        IEnumerable<Recommendation> rows = pop.Transform(Endless(), k: 3);
        Assert.That(pulled, Is.EqualTo(0), "nothing is read before enumeration");
        List<Recommendation> first = rows.Take(5).ToList();
        Assert.That(pulled, Is.LessThanOrEqualTo(256), "one batch is read, not the whole stream");
        Assert.That(first.Select(r => r.UserId), Is.EqualTo(new[] { "u0", "u1", "u2", "u3", "u4" }));
        Assert.That(first[0].Items.Select(i => i.ItemId), Does.Not.Contain(data.Items[0].Id), "seen items are excluded");
        Assert.That(first[0].Items.Select(i => i.Score), Is.Ordered.Descending);
    }

    [Test]
    public void BadHistoriesGiveClearErrors()
    {
        (_, InteractionDataset data) = Synthetic();
        var ctx = new RecContext();
        Recommender r = ctx.Model.CreateRecommender(ctx.Trainers.MostPopular().Fit(data));
        Assert.That(Assert.Throws<ArgumentException>(() => r.Recommend([data.Items[0].Id, "no-such-item"]))!.Message,
            Does.Contain("'no-such-item' (position 2) is not in the model's catalogue"));
        Assert.That(Assert.Throws<ArgumentException>(() => r.Recommend([]))!.Message, Does.Contain("empty"));
    }

    [Test]
    public void NewerTruncatedAndForeignZipsAreRejectedClearly()
    {
        (_, InteractionDataset data) = Synthetic();
        var ctx = new RecContext();
        string good = Path.Combine(_dir, "pop.zip");
        ctx.Model.Save(ctx.Trainers.MostPopular().Fit(data), good);

        string newer = Path.Combine(_dir, "newer.zip");
        File.Copy(good, newer);
        using (ZipArchive zip = ZipFile.Open(newer, ZipArchiveMode.Update))
        {
            ZipArchiveEntry entry = zip.GetEntry("calrec-model.json")!;
            JsonObject manifest;
            using (Stream s = entry.Open())
            {
                manifest = JsonNode.Parse(s)!.AsObject();
            }

            entry.Delete();
            manifest["format_version"] = ModelArchive.FormatVersion + 1;
            using var w = new StreamWriter(zip.CreateEntry("calrec-model.json").Open());
            w.Write(manifest.ToJsonString());
        }

        Assert.That(Assert.Throws<ModelFormatException>(() => ctx.Model.Load(newer))!.Message, Does.Contain("newer CalRec.MLNet").And.Contain("newer.zip"));

        string truncated = Path.Combine(_dir, "truncated.zip");
        byte[] bytes = File.ReadAllBytes(good);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        Assert.That(Assert.Throws<ModelFormatException>(() => ctx.Model.Load(truncated))!.Message, Does.Contain("truncated or corrupt"));

        string foreign = Path.Combine(_dir, "foreign.zip");
        using (ZipArchive zip = ZipFile.Open(foreign, ZipArchiveMode.Create))
        {
            zip.CreateEntry("readme.txt");
        }

        Assert.That(Assert.Throws<ModelFormatException>(() => ctx.Model.Load(foreign))!.Message, Does.Contain("not a CalRec model zip"));
        Assert.Throws<FileNotFoundException>(() => ctx.Model.Load(Path.Combine(_dir, "missing.zip")));
    }

    [Test]
    public void AFailedSaveLeavesTheExistingModelIntact()
    {
        (_, InteractionDataset data) = Synthetic();
        var ctx = new RecContext();
        string path = Path.Combine(_dir, "model.zip");
        RecommenderModel pop = ctx.Trainers.MostPopular().Fit(data);
        ctx.Model.Save(pop, path);
        byte[] before = File.ReadAllBytes(path);
        var unsavable = new RecommenderModel("custom", new ConstantScorer(data.ItemCount), data.Items, pop.Training);
        Assert.Throws<NotSupportedException>(() => ctx.Model.Save(unsavable, path));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFileSystemEntries(_dir), Has.Length.EqualTo(1), "staging folder and temporary zip are removed");
    }

    private sealed class ConstantScorer(int n) : IRecommenderScorer
    {
        public int ItemCount => n;

        public void Score(IReadOnlyList<int[]> histories, Span<float> scores) => scores.Clear();
    }

    [Test]
    public void EvaluationMatchesItemsByIdAcrossCatalogueOrders()
    {
        (_, InteractionDataset data) = Synthetic();
        var ctx = new RecContext();
        RecommenderModel pop = ctx.Trainers.MostPopular().Fit(data);
        // The same dataset with the catalogue reversed: item indices differ, ids do not.
        var reversed = InteractionDataset.Create(data.Name, data.Items.Reverse().ToList(),
            data.Users.Select((u, k) => new UserSequence(u, data.Sequences[k].Select(i => data.Items[i].Id).ToList(), null)));
        var eval = new RecommendationEvaluatorOptions { BootstrapSamples = 0 };
        Assert.That(ctx.Ranking.Evaluate(pop, reversed, eval).Ranks, Is.EqualTo(ctx.Ranking.Evaluate(pop, data, eval).Ranks));
        var other = InteractionDataset.Create("other", [new CatalogItem("x", "X", string.Empty), new CatalogItem("y", "Y", string.Empty)],
            [new UserSequence("u", ["x", "y", "x"], null)]);
        Assert.That(Assert.Throws<ArgumentException>(() => ctx.Ranking.Evaluate(pop, other))!.Message, Does.Contain("None of the 1 test users"));
    }
}
