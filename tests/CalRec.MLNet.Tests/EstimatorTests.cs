using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Recommenders;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.SasRec;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet.Tests;

public sealed class EstimatorTests
{
    private static readonly SasRecTrainer.Options FastSasRec = new() { Hidden = 32, MaxLength = 20, Dropout = 0.2f, BatchSize = 64, LearningRate = 3e-3f, MaxEpochs = 15, Patience = 4, Seed = 1 };

    [Test]
    public void SasRecThroughIDataViewEqualsTheLibraryTrainerOnTheSameData()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(150);
        IDataView interactions = ml.View(Tables.Interactions(data));
        IDataView items = ml.View(Tables.Items(data));

        SequentialRecommendationTransformer model = ml.SequentialRecommendation().Trainers
            .SasRec(new SasRecEstimatorOptions { Items = items, Trainer = FastSasRec, TopK = 20 }).Fit(interactions);
        var split = new LeaveOneOutSplit(data);
        RecommenderModel direct = new RecContext().Trainers.SasRec(FastSasRec).Fit(split);

        IDataView test = ml.SequentialRecommendation().Data.LeaveOneOutTestSet(interactions);
        IDataView scored = model.Transform(test);
        RecommendationMetrics viaTable = ml.SequentialRecommendation().Evaluate(scored, ks: [5, 10, 20], catalogSize: data.ItemCount, bootstrapSamples: 0);
        RecommendationMetrics viaLibrary = RecommendationEvaluator.Evaluate(direct, split.Test, new RecommendationEvaluatorOptions { Ks = [5, 10, 20], BootstrapSamples = 0 });

        Assert.That(viaTable.Users, Is.EqualTo(split.Test.Count));
        foreach (string metric in (string[])["ndcg@10", "hr@10", "mrr@20", "ndcg@20"])
        {
            Assert.That(viaTable[metric].Value, Is.EqualTo(viaLibrary[metric].Value).Within(1e-12), metric);
        }

        Assert.That(viaTable.CoverageAtMaxK, Is.EqualTo(viaLibrary.CoverageAtMaxK).Within(1e-12));
        double popularity = RecommendationEvaluator.Evaluate(new RecContext().Trainers.MostPopular().Fit(split), split.Test, new RecommendationEvaluatorOptions { BootstrapSamples = 0 })["ndcg@10"].Value;
        Assert.That(viaLibrary["ndcg@10"].Value, Is.GreaterThan(2 * popularity), "the model learned the routines");
    }

    [Test]
    public void MostPopularTransformAppendsTopKAndPassesColumnsThrough()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(30);
        SequentialRecommendationTransformer model = ml.SequentialRecommendation().Trainers.MostPopular(new MostPopularEstimatorOptions { TopK = 5 })
            .Fit(ml.View(Tables.Interactions(data)));
        IDataView histories = ml.View(new[] { new ModelInput { UserId = "a", History = [data.Items[0].Id] }, new ModelInput { UserId = "b", History = [data.Items[1].Id, data.Items[2].Id] } });

        IDataView scored = model.Transform(histories);
        var rows = ml.Data.CreateEnumerable<ScoredRow>(scored, reuseRowObject: false).ToList();

        Assert.That(scored.Schema.Select(c => c.Name), Is.EqualTo(new[] { "UserId", "History", "PredictedItemIds", "Scores" }));
        Assert.That(scored.Schema["PredictedItemIds"].Type, Is.EqualTo(new VectorDataViewType(TextDataViewType.Instance)));
        Assert.That(scored.Schema["Scores"].Type, Is.EqualTo(new VectorDataViewType(NumberDataViewType.Single)));
        Assert.That(model.GetOutputSchema(histories.Schema).Select(c => (c.Name, c.Type)), Is.EqualTo(scored.Schema.Select(c => (c.Name, c.Type))));
        Assert.That(rows.Select(r => r.UserId), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(rows.Select(r => r.PredictedItemIds.Length), Is.All.EqualTo(5));
        Assert.That(rows[1].PredictedItemIds, Does.Not.Contain(data.Items[1].Id).And.Not.Contain(data.Items[2].Id), "seen items are excluded");
        Assert.That(rows[0].Scores, Is.Ordered.Descending);
        var direct = new RecContext().Model.CreateRecommender(model.Model).Recommend([data.Items[1].Id, data.Items[2].Id], 5);
        Assert.That(rows[1].PredictedItemIds, Is.EqualTo(direct.Select(i => i.ItemId)));
    }

    [Test]
    public void TimestampsOrderEachUsersEventsWhateverTheTableOrder()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(20);
        List<InteractionRow> rows = Tables.Interactions(data);
        var shuffled = rows.OrderBy(r => (r.ItemId.GetHashCode(StringComparison.Ordinal) * 31) + r.Timestamp).ToList();
        Assert.That(shuffled.Select(r => r.UserId), Is.Not.EqualTo(rows.Select(r => r.UserId)), "the shuffle changes the order");

        IDataView ordered = ml.SequentialRecommendation().Data.Histories(ml.View(rows));
        IDataView fromShuffled = ml.SequentialRecommendation().Data.Histories(ml.View(shuffled));
        var a = ml.Data.CreateEnumerable<ModelInput>(ordered, false).ToDictionary(r => r.UserId, r => r.History);
        var b = ml.Data.CreateEnumerable<ModelInput>(fromShuffled, false).ToDictionary(r => r.UserId, r => r.History);

        Assert.That(a.Count, Is.EqualTo(data.Users.Count));
        Assert.That(b, Is.EquivalentTo(a));
        Assert.That(a[data.Users[3]], Is.EqualTo(data.Sequences[3].Select(i => data.Items[i].Id)));
    }

    [Test]
    public void TransformIsLazyAndScoresInBlocks()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(30);
        SequentialRecommendationTransformer model = ml.SequentialRecommendation().Trainers.MostPopular().Fit(ml.View(Tables.Interactions(data)));
        var source = new CountingDataView(ml.View(Enumerable.Range(0, 2_000).Select(i => new ModelInput { UserId = $"u{i}", History = [data.Items[i % data.ItemCount].Id] })));

        IDataView scored = model.Transform(source);
        Assert.That(source.RowsRead, Is.Zero, "Transform reads nothing");
        using (DataViewRowCursor cursor = scored.GetRowCursor(scored.Schema))
        {
            var getter = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(scored.Schema["PredictedItemIds"]);
            VBuffer<ReadOnlyMemory<char>> ids = default;
            Assert.That(cursor.MoveNext(), Is.True);
            getter(ref ids);
            Assert.That(ids.Length, Is.EqualTo(10));
        }

        Assert.That(source.RowsRead, Is.InRange(2, SequentialRecommendationTransformer.BlockSize + 1), "one block scored, not the table");
        Assert.That(ml.Data.CreateEnumerable<ScoredRow>(scored, false).Count(), Is.EqualTo(2_000));
    }

    [Test]
    public void AnInteractionsTableIsGroupedPerUserByTransformAndTheEstimatorSchemaSaysSo()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(15);
        IDataView interactions = ml.View(Tables.Interactions(data));
        SequentialRecommenderEstimator estimator = ml.SequentialRecommendation().Trainers.MostPopular();
        SequentialRecommendationTransformer model = estimator.Fit(interactions);

        IDataView scored = model.Transform(interactions);
        SchemaShape shape = estimator.GetOutputSchema(Tables.Shape<InteractionRow>(ml));

        Assert.That(shape.Select(c => c.Name), Is.EqualTo(scored.Schema.Select(c => c.Name)));
        Assert.That(scored.Schema.Select(c => c.Name), Is.EqualTo(new[] { "UserId", "History", "PredictedItemIds", "Scores" }));
        var rows = ml.Data.CreateEnumerable<ScoredRow>(scored, false).ToList();
        Assert.That(rows.Count, Is.EqualTo(data.Users.Count));
        Assert.That(rows[0].History, Is.EqualTo(data.Sequences[0].Select(i => data.Items[i].Id)));
    }

    [Test]
    public void EvaluateEqualsTheLibraryEvaluatorForMostPopularAndByGroup()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(40);
        IDataView interactions = ml.View(Tables.Interactions(data));
        var options = new MostPopularEstimatorOptions { TopK = 10, Items = ml.View(Tables.Items(data)) };
        SequentialRecommendationTransformer model = ml.SequentialRecommendation().Trainers.MostPopular(options).Fit(interactions);
        var split = new LeaveOneOutSplit(data);

        IDataView test = ml.SequentialRecommendation().Data.LeaveOneOutTestSet(interactions);
        RecommendationMetrics viaTable = ml.SequentialRecommendation().Evaluate(model.Transform(test), bootstrapSamples: 200);
        RecommendationMetrics viaLibrary = RecommendationEvaluator.Evaluate(model.Model, split.Test, new RecommendationEvaluatorOptions { Ks = [1, 5, 10], BootstrapSamples = 200 });

        Assert.That(viaTable["ndcg@10"], Is.EqualTo(viaLibrary["ndcg@10"]), "same ranks, same bootstrap: same value and interval");
        Assert.That(viaTable["hr@5"], Is.EqualTo(viaLibrary["hr@5"]));
        Assert.Throws<ArgumentException>(() => ml.SequentialRecommendation().Evaluate(model.Transform(test), ks: [20]), "a list shorter than K is refused");

        // Per domain of the label: a Domain column added to the evaluation table.
        Dictionary<string, string> domainOf = data.Items.ToDictionary(i => i.Id, i => i.Domain!);
        IDataView withDomain = ml.View(ml.Data.CreateEnumerable<EvaluationRow>(test, false)
            .Select(r => new DomainCase { UserId = r.UserId, History = r.History, Label = r.Label, Domain = domainOf[r.Label] }));
        var groups = ml.SequentialRecommendation().EvaluateByGroup(model.Transform(withDomain), "Domain", bootstrapSamples: 0);
        var expected = RecommendationEvaluator.Evaluate(model.Model, split.Test, new RecommendationEvaluatorOptions { Ks = [1, 5, 10], BootstrapSamples = 0 }).ByTargetDomain(split.Test, data);
        Assert.That(groups.Select(g => g.Group), Is.EqualTo(new[] { "all" }.Concat(expected.Select(e => e.Group))));
        Assert.That(groups.Skip(1).Select(g => g.Metrics["ndcg@10"].Value), Is.EqualTo(expected.Select(e => e.Metrics["ndcg@10"].Value)).Within(1e-12));
    }

    private sealed class DomainCase
    {
        public string UserId { get; set; } = "";

        public string[] History { get; set; } = [];

        public string Label { get; set; } = "";

        public string Domain { get; set; } = "";
    }

    [Test]
    public void AProductionModelTrainsOnTheItemsTheEvaluationProtocolHoldsOut()
    {
        // Item 'z' is every user's second-to-last interaction: the evaluation protocol keeps it as the validation target
        // (never trained on); a production model (no test hold-out) trains on it, and it becomes the most popular item.
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(10);
        var rows = new List<InteractionRow>();
        for (int u = 0; u < data.Users.Count; u++)
        {
            int[] s = data.Sequences[u];
            for (int k = 0; k < s.Length; k++)
            {
                rows.Add(new InteractionRow { UserId = data.Users[u], ItemId = k == s.Length - 2 ? "z" : data.Items[s[k]].Id, Timestamp = k });
            }
        }

        IDataView interactions = ml.View(rows);
        IDataView one = ml.View(new[] { new ModelInput { UserId = "x", History = [data.Items[0].Id] } });
        string Top(bool holdOut) => ml.Data.CreateEnumerable<ModelOutput>(ml.SequentialRecommendation().Trainers
            .MostPopular(new MostPopularEstimatorOptions { HoldOutTestItem = holdOut }).Fit(interactions).Transform(one), false).Single().PredictedItemIds[0];

        Assert.That(Top(holdOut: false), Is.EqualTo("z"));
        Assert.That(Top(holdOut: true), Is.Not.EqualTo("z"));

        // No leak: an item that is only ever a user's held-out last interaction is never trained on, in either mode.
        rows = rows.Select(r => r.ItemId == "z" ? new InteractionRow { UserId = r.UserId, ItemId = data.Items[0].Id, Timestamp = r.Timestamp } : r).ToList();
        var lastItems = rows.GroupBy(r => r.UserId).Select(g => g.MaxBy(r => r.Timestamp)!).ToHashSet();
        rows = rows.Select(r => lastItems.Contains(r) ? new InteractionRow { UserId = r.UserId, ItemId = "z", Timestamp = r.Timestamp } : r).ToList();
        interactions = ml.View(rows);
        foreach (bool holdOut in new[] { true, false })
        {
            ModelOutput all = ml.Data.CreateEnumerable<ModelOutput>(ml.SequentialRecommendation().Trainers
                .MostPopular(new MostPopularEstimatorOptions { HoldOutTestItem = holdOut, TopK = 1_000 }).Fit(interactions).Transform(one), false).Single();
            (float[] scores, string[] ids) = (all.Scores, all.PredictedItemIds);
            Assert.That(scores[Array.IndexOf(ids, "z")], Is.EqualTo(scores.Min()), $"holdOut={holdOut}: 'z' has no training count");
            Assert.That(scores.Max(), Is.GreaterThan(scores.Min()));
        }
    }

    private sealed class ScoredRow
    {
        public string UserId { get; set; } = "";

        public string[] History { get; set; } = [];

        public string[] PredictedItemIds { get; set; } = [];

        public float[] Scores { get; set; } = [];
    }
}
