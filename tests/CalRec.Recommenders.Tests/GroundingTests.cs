using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Data.Synthetic;
using CalRec.Models.Decoder;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.Grounding;
using CalRec.Recommenders.MostPopular;

namespace CalRec.Recommenders.Tests;

[TestFixture]
public class GroundingTests
{
    private RecContext _ctx = null!;
    private CalRecModel _model = null!;
    private LeaveOneOutSplit _split = null!;

    [OneTimeSetUp]
    public void TrainOnce()
    {
        _ctx = new RecContext(seed: 4);
        InteractionDataset all = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 8, UsersPerDomain = 200 }).ToDataset();
        InteractionDataset target = all.ForDomain("kitchen");
        _split = new LeaveOneOutSplit(target);
        _model = _ctx.Trainers.CalRec(new CalRecTrainer.Options
        {
            Backbone = "tiny",
            VocabularySize = 600,
            PretrainSteps = 80,
            PretrainSequenceLength = 96,
            Stage1 = new CalRecStageOptions { Epochs = 1, LearningRate = 2e-3f },
            Stage2 = new CalRecStageOptions { Epochs = 3, LearningRate = 2e-3f },
            Members = 1,
            BatchSize = 16,
            MaxHistory = 5,
            MaxItemTokens = 16,
            ValidationUsers = 100,
            Seed = 2,
        }).Fit(_split, all.Domains.Select(all.ForDomain).ToList());
    }

    [Test]
    public void QuasiRoundRobinTakesTheNextUnseenItemFromEachListInTurn()
    {
        IReadOnlyList<IReadOnlyList<int>> lists = [[1, 2, 3], [2, 4], [5, 1, 6]];
        Assert.That(RankFusion.QuasiRoundRobin(lists, 5, new HashSet<int> { 4 }), Is.EqualTo(new[] { 1, 2, 5, 3, 6 }));
        Assert.That(RankFusion.QuasiRoundRobin(lists, 2), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(RankFusion.QuasiRoundRobin(lists, 10), Is.EqualTo(new[] { 1, 2, 5, 3, 4, 6 }), "runs until every list is exhausted");
        Assert.That(RankFusion.QuasiRoundRobin([], 3), Is.Empty);
    }

    [Test]
    public void WeightedReciprocalRankFusionMatchesHandComputedScores()
    {
        var fused = RankFusion.Reciprocal([([1, 2, 3], 1.0), ([3, 1], 2.0), ([9], 0.0)], 10);
        Assert.That(fused.Select(f => f.Item), Is.EqualTo(new[] { 3, 1, 2 }), "a zero weight drops its list");
        Assert.That(fused[0].Score, Is.EqualTo((1.0 / 63) + (2.0 / 61)).Within(1e-12));
        Assert.That(fused[1].Score, Is.EqualTo((1.0 / 61) + (2.0 / 62)).Within(1e-12));
        Assert.That(fused[2].Score, Is.EqualTo(1.0 / 62).Within(1e-12));
        Assert.That(RankFusion.Reciprocal([([7, 7, 8], 1.0)], 5).Select(f => f.Item), Is.EqualTo(new[] { 7, 8 }), "a repeated item counts once, at its best rank");
    }

    [Test]
    public void ReweightingFollowsTheFormula()
    {
        float[] adjusted = new float[3];
        PopularityReweighting.Apply([1f, 2f, 3f], [0f, 10f, 5f], 1f, adjusted);
        Assert.That(adjusted[0], Is.EqualTo(0f));
        Assert.That(adjusted[1], Is.EqualTo(0.5f / 2f).Within(1e-6));
        Assert.That(adjusted[2], Is.EqualTo(1f / 1.5f).Within(1e-6));
        PopularityReweighting.Apply([1f, 2f, 3f], [0f, 10f, 5f], 0f, adjusted);
        Assert.That(adjusted, Is.EqualTo(new[] { 0f, 0.5f, 1f }), "gamma 0 leaves the normalized distances");
        Assert.That(() => PopularityReweighting.Apply([1f], [1f, 2f], 1f, adjusted), Throws.ArgumentException);
    }

    [TestCase(GroundingPath.Bm25, false)]
    [TestCase(GroundingPath.Bm25, true)]
    [TestCase(GroundingPath.Embedding, false)]
    [TestCase(GroundingPath.Constrained, false)]
    [TestCase(GroundingPath.Fusion, false)]
    public void EveryPathIsDeterministicStaysInTheCatalogueAndLearnedSomething(GroundingPath path, bool sampling)
    {
        var options = new GroundingOptions { Path = path, Sampling = sampling, Candidates = 3, ListLength = 20, Gamma = path == GroundingPath.Embedding ? 0.5f : 0f, ConstrainedBeams = 6 };
        var cases = _split.Test.Take(60).ToList();
        var eval = new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 };
        GroundedScorer scorer = _ctx.Grounding.Create(_model, options);
        RecommendationMetrics first = RecommendationEvaluator.Evaluate(scorer, cases, eval);
        RecommendationMetrics again = RecommendationEvaluator.Evaluate(_ctx.Grounding.Create(_model, options), cases, eval);
        Assert.That(again.Ranks, Is.EqualTo(first.Ranks), "same settings, same ranking");
        double pop = RecommendationEvaluator.Evaluate(_ctx.Trainers.MostPopular().Fit(_split), cases, eval)["ndcg@10"].Value;
        TestContext.Out.WriteLine($"{path}: NDCG@10 {first["ndcg@10"].Value:F4} vs MostPopular {pop:F4}");
        // A random ranking of the 72 kitchen items scores about 0.07. The tiny test backbone generates the catalogue's
        // format but often the wrong brand, so single generation paths only have to beat chance clearly; fusion, which
        // includes the dense list, has to beat popularity.
        Assert.That(first["ndcg@10"].Value, Is.GreaterThan(path == GroundingPath.Fusion ? pop : 0.12), $"{path} grounding learned too little");

        GroundingExplanation e = scorer.Explain(cases[0].History, k: 5);
        TestContext.Out.WriteLine($"generated after '{_model.Catalog[cases[0].History[^1]].Title}': {string.Join(" | ", e.Generated.Select(g => g.Text))}");
        Assert.That(e.Top, Has.Count.EqualTo(5));
        Assert.That(e.Top.Select(t => t.Item), Is.All.InRange(0, _model.ItemCount - 1));
        Assert.That(e.Top.Select(t => t.Item), Is.Unique);
        Assert.That(e.Top.Select(t => t.Item).Intersect(cases[0].History), Is.Empty, "seen items are not recommended");
        Assert.That(e.Lists.Values.SelectMany(l => l), Is.All.InRange(0, _model.ItemCount - 1));
        if (path != GroundingPath.Constrained)
        {
            Assert.That(e.Generated, Has.Count.InRange(1, 3));
            Assert.That(e.Generated.Select(g => g.Text), sampling ? Has.Some.StartsWith("title:") : Has.All.StartsWith("title:"), "the LM learned the item text format");
            Assert.That(e.Lists.Keys, Is.SupersetOf(new[] { GroundingPath.Dense, GroundingPath.Bm25, GroundingPath.Embedding }));
        }
        else
        {
            Assert.That(e.Lists[GroundingPath.Constrained], Is.Unique.And.Not.Empty, "constrained generation yields real, distinct items");
        }
    }

    [Test]
    public void TuningChoosesGammaAndWeightsOnValidationUsersOnly()
    {
        var log = new List<string>();
        _ctx.Log += (_, e) => log.Add(e.Message);
        GroundingOptions tuned = _ctx.Grounding.Tune(_model, _split, new GroundingOptions { Candidates = 2, ListLength = 20 }, validationUsers: 40);
        Assert.That(tuned.FusionWeights.Values.Sum(), Is.GreaterThan(0));
        Assert.That(tuned.Gamma, Is.GreaterThanOrEqualTo(0f));
        Assert.That(log, Has.Some.Contains("generating for 40 validation users"));

        // The log says which way the mixture-or-single-list decision went, and it agrees with the weights returned.
        bool mixture = tuned.FusionWeights.Values.Count(w => w > 0) > 1;
        Assert.That(log, mixture ? Has.Some.Contains("the mixture is kept") : Has.None.Contains("the mixture is kept"));
    }

    [Test]
    public void TunedFusionIsAtLeastAsGoodAsEverySinglePathOnTheTuningUsers()
    {
        // Every single path (one non-zero weight) is in the tuner's grid, so on the users it tuned on the chosen fusion
        // can be no worse than any path alone: this holds only if tuning scores lists exactly as the scorer ranks them.
        IReadOnlyList<EvaluationCase> cases = _split.Validation.Take(40).ToList();
        var o = new GroundingOptions { Candidates = 2, ListLength = 20, ConstrainedBeams = 4 };
        GroundingOptions tuned = _ctx.Grounding.Tune(_model, cases, o, validationUsers: 0, popularity: null);
        Assert.That(tuned.FusionWeights.Keys, Is.EquivalentTo(new[] { GroundingPath.Dense, GroundingPath.Bm25, GroundingPath.Embedding, GroundingPath.Constrained }));
        double Ndcg(GroundingOptions options) =>
            RecommendationEvaluator.Evaluate(_ctx.Grounding.Create(_model, options), cases, new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 })["ndcg@10"].Value;

        GroundingOptions fused = tuned.Clone();
        fused.Path = GroundingPath.Fusion;
        double fusion = Ndcg(fused);
        foreach (GroundingPath path in new[] { GroundingPath.Dense, GroundingPath.Bm25, GroundingPath.Embedding, GroundingPath.Constrained })
        {
            GroundingOptions single = tuned.Clone();
            single.Path = path;
            Assert.That(fusion, Is.GreaterThanOrEqualTo(Ndcg(single) - 1e-9), path.ToString());
        }
    }

    [Test]
    public void AMixtureMustBeatTheBestSingleListBeyondTheNoiseOfTheTuningUsers()
    {
        // Four users, one of whom the mixture ranks better: mean gain 0.25, sd 0.5, lower bound 0.25 - 1.645 · 0.5 / 2.
        (double gain, double lower) = GroundingTuner.PairedGain([1.0, 0.5, 0.5, 0.0], [0.0, 0.5, 0.5, 0.0]);
        Assert.That(gain, Is.EqualTo(0.25).Within(1e-12));
        Assert.That(lower, Is.EqualTo(0.25 - (1.645 * 0.5 / 2)).Within(1e-12));

        // 300 users: gains on 6 of them and losses on 6 others are noise however the mean leans; a gain on 60 of them
        // with no losses is not.
        double[] single = Enumerable.Range(0, 300).Select(i => (i % 3) * 0.25).ToArray();
        double[] mixedLuck = single.Select((x, i) => i % 50 == 0 ? x + 0.5 : i % 50 == 25 ? x - 0.4 : x).ToArray();
        double[] steady = single.Select((x, i) => i % 5 == 0 ? x + 0.3 : x).ToArray();
        Assert.That(GroundingTuner.PairedGain(mixedLuck, single).Gain, Is.GreaterThan(0));
        Assert.That(GroundingTuner.PairedGain(mixedLuck, single).Lower, Is.LessThan(0), "a small mean gain with losses beside it is kept out");
        Assert.That(GroundingTuner.PairedGain(steady, single).Lower, Is.GreaterThan(0));
        Assert.That(() => GroundingTuner.PairedGain([1.0], [0.0]), Throws.ArgumentException);
        Assert.That(() => GroundingTuner.PairedGain([1.0, 0.0], [0.0]), Throws.ArgumentException);
    }

    [Test]
    public void AMixtureIsChosenOnHalfTheTuningUsersAndKeptOnlyIfTheOtherHalfConfirmsIt()
    {
        // 400 tuning users; the dense list alone is the best single list.
        double[] dense = Enumerable.Range(0, 400).Select(i => (i % 4) * 0.25).ToArray();
        double[] bm25 = dense.Select(x => x * 0.5).ToArray();
        double[] lucky = dense.Select((x, i) => i % 2 == 0 && i % 10 == 0 ? x + 0.3 : x).ToArray();
        double[] steady = dense.Select((x, i) => i % 5 == 0 ? x + 0.4 : x).ToArray();
        double[] behind = dense.Select((x, i) => i % 2 == 0 ? x - 0.1 : x + 0.5).ToArray();
        (double[], double[]) Single(int path, double[] perUser) => (Enumerable.Range(0, 4).Select(j => j == path ? 1.0 : 0.0).ToArray(), perUser);

        // A mixture ahead only on the users it was chosen on: judged on all 400 (the rule before) it looked real; the
        // held-out half shows no gain, so the dense list is kept.
        Assert.That(GroundingTuner.PairedGain(lucky, dense).Lower, Is.GreaterThan(0), "the same users that chose it would have accepted it");
        var log = new List<string>();
        (double[] weights, double mean) = GroundingTuner.ChooseFusion([Single(1, bm25), ([1, 1, 0, 0], lucky), Single(0, dense), ([2, 0, 1, 0], behind)], log.Add);
        Assert.That(weights, Is.EqualTo(new[] { 1.0, 0, 0, 0 }));
        Assert.That(mean, Is.EqualTo(dense.Average()).Within(1e-12));
        Assert.That(log, Has.One.Contains("within their noise: the single list is kept").And.Contains("on the other 200 users it gains 0.0000"));

        // A mixture whose gain holds on both halves is kept, and the mean it reports is over all users.
        log.Clear();
        (weights, mean) = GroundingTuner.ChooseFusion([Single(0, dense), ([1, 1, 0, 0], lucky), ([1, 0.5, 0, 0], steady), Single(1, bm25)], log.Add);
        Assert.That(weights, Is.EqualTo(new[] { 1.0, 0.5, 0, 0 }));
        Assert.That(mean, Is.EqualTo(steady.Average()).Within(1e-12));
        Assert.That(log, Has.One.Contains("beyond their noise: the mixture is kept"));

        // A mixture behind the single list on the users that choose is not considered, however well it does on the others.
        log.Clear();
        (weights, _) = GroundingTuner.ChooseFusion([([0, 0.5, 0, 0], bm25), ([0, 0, 0, 2], dense), ([2, 0, 1, 0], behind)], log.Add);
        Assert.That(weights, Is.EqualTo(new[] { 0, 0, 0, 1.0 }), "a single list comes back at weight 1, as it ranks at any weight");
        Assert.That(log, Is.Empty);

        // Too few users to hold any out: the single list.
        (weights, _) = GroundingTuner.ChooseFusion([Single(0, [0.0, 0.0]), ([1, 1, 0, 0], [1.0, 0.0])], log.Add);
        Assert.That(weights, Is.EqualTo(new[] { 1.0, 0, 0, 0 }));
        Assert.That(log, Has.One.Contains("too few users are left to confirm it"));
    }

    private sealed class HistoryDependentScorer(int items) : IRecommenderScorer
    {
        public int ItemCount => items;

        public void Score(IReadOnlyList<int[]> histories, Span<float> scores)
        {
            for (int u = 0; u < histories.Count; u++)
            {
                int h = histories[u].Sum();
                for (int j = 0; j < items; j++)
                {
                    scores[(u * items) + j] = ((j * 7) + h) % 13;
                }
            }
        }
    }

    [Test]
    public void CollaborativeModelScoresReweightEmbeddingGroundingMatchedByItemId()
    {
        // A collaborative model over the same items in reverse order, one item missing: its scores for the user, mapped by
        // id (the missing item gets the user's lowest score), are C in D' = D_norm · (1 + C_norm)^-γ.
        List<Data.CatalogItem> reversed = _model.Catalog.Reverse().Skip(1).ToList();
        var collaborative = new RecommenderModel("fixed", new HistoryDependentScorer(reversed.Count), reversed,
            new TrainingInfo("test", DateTimeOffset.UnixEpoch, 0, 0, null, new Dictionary<string, string>()));
        int[] history = _split.Test[0].History;
        int n = _model.ItemCount;
        var plain = new GroundingOptions { Path = GroundingPath.Embedding, Candidates = 2, Gamma = 0f };
        float[] raw = new float[n];
        _ctx.Grounding.Create(_model, plain).Score([history], raw);
        raw = raw.Select(x => -x).ToArray();

        // Position r of the reversed list holds item n - 2 - r; item n - 1 is the one left out.
        int[] mappedHistory = history.Where(i => i != n - 1).Select(i => n - 2 - i).ToArray();
        float[] collaborativeScores = new float[reversed.Count];
        collaborative.Score([mappedHistory], collaborativeScores);
        float[] signal = Enumerable.Range(0, n).Select(i => i == n - 1 ? collaborativeScores.Min() : collaborativeScores[n - 2 - i]).ToArray();
        float[] expected = new float[n];
        PopularityReweighting.Apply(raw, signal, 2f, expected);

        var reweighting = new GroundingOptions { Path = GroundingPath.Embedding, Candidates = 2, Gamma = 2f };
        GroundedScorer scorer = _ctx.Grounding.Create(_model, reweighting, collaborative: collaborative);
        Assert.That(scorer.Options.Signal, Is.EqualTo(ReweightingSignal.Collaborative));
        Assert.That(reweighting.Signal, Is.EqualTo(ReweightingSignal.Popularity), "the caller's settings are not modified");
        float[] actual = new float[n];
        scorer.Score([history], actual);
        Assert.That(actual.Select(x => -x), Is.EqualTo(expected).Within(1e-6f));
        Assert.That(actual, Is.Not.EqualTo(raw.Select(x => -x)), "the signal changed the ranking scores");

        GroundingOptions tuned = _ctx.Grounding.Tune(_model, _split.Validation.Take(30).ToList(), plain, validationUsers: 0, popularity: null, collaborative);
        Assert.That(tuned.Signal, Is.EqualTo(ReweightingSignal.Collaborative));
        tuned.Gamma = 1f;
        Assert.That(() => _ctx.Grounding.Create(_model, tuned), Throws.ArgumentException.With.Message.Contains("--collaborative"),
            "a γ tuned for a collaborative model is not silently applied to popularity");
    }

    [Test]
    public void EmbeddingGroundingCanUseAnotherPoolingOrTheBaseBackbone()
    {
        var options = new GroundingOptions { Path = GroundingPath.Embedding, Candidates = 2 };
        GroundedScorer own = _ctx.Grounding.Create(_model, options);
        Assert.That(own.ItemVectors.ToArray(), Is.EqualTo(_model.Towers.ItemEmbeddings.ToArray()), "by default the saved item index is compared against");

        Models.Embeddings.Pooling other = _model.Settings.Pooling == Models.Embeddings.Pooling.Mean ? Models.Embeddings.Pooling.LastToken : Models.Embeddings.Pooling.Mean;
        GroundingOptions pooledOptions = options.Clone();
        pooledOptions.EmbeddingPooling = other;
        GroundedScorer pooled = _ctx.Grounding.Create(_model, pooledOptions);
        Assert.That(pooled.ItemVectors.ToArray(), Is.EqualTo(CalRecScorer.EncodeCatalogue(_model.Backbone, _model.Towers.Table, other)));

        var baseBackbone = new DecoderLM(_model.Backbone.Config, seed: 9);
        GroundedScorer based = _ctx.Grounding.Create(_model, options, embedder: GroundingEmbedder.FromBackbone(baseBackbone));
        Assert.That(based.ItemVectors.ToArray(), Is.EqualTo(CalRecScorer.EncodeCatalogue(baseBackbone, _model.Towers.Table, _model.Settings.Pooling)));
        int[] history = _split.Test[1].History;
        float[] a = new float[_model.ItemCount], b = new float[_model.ItemCount], again = new float[_model.ItemCount];
        own.Score([history], a);
        based.Score([history], b);
        _ctx.Grounding.Create(_model, options, embedder: GroundingEmbedder.FromBackbone(baseBackbone)).Score([history], again);
        Assert.That(b, Is.Not.EqualTo(a), "another backbone embeds differently");
        Assert.That(again, Is.EqualTo(b), "deterministic");

        var wrongVocabulary = new DecoderLM(_model.Backbone.Config with { VocabSize = _model.Backbone.Config.VocabSize + 1 }, seed: 9);
        Assert.That(() => _ctx.Grounding.Create(_model, options, embedder: GroundingEmbedder.FromBackbone(wrongVocabulary)), Throws.ArgumentException.With.Message.Contains("same tokenizer"));
    }

    [Test]
    public void EmbeddingGroundingCanUseAPretrainedTextEncoder()
    {
        // A text encoder of another space (as MiniLM is): it sees the items as the model renders them and the generated
        // texts as decoded, and the path's scores are minus the smallest distance between the normalized vectors.
        var encoder = new CharacterTrigramEncoder();
        var options = new GroundingOptions { Path = GroundingPath.Embedding, Candidates = 3 };
        GroundedScorer scorer = _ctx.Grounding.Create(_model, options, embedder: GroundingEmbedder.FromTextEncoder(encoder));
        Assert.That(scorer.ItemVectors.Length, Is.EqualTo(_model.ItemCount * encoder.Dimension));
        Assert.That(encoder.Seen.Take(_model.ItemCount), Is.EqualTo(_model.Catalog.Select(i => ItemTextTable.Render(i, _model.Settings.Template))),
            "the catalogue is embedded from its rendered texts");

        int[] history = _split.Test[2].History;
        GroundingExplanation e = scorer.Explain(history, 5);
        float[] scores = new float[_model.ItemCount];
        scorer.Score([history], scores);
        float[] items = Unit(encoder.Encode(_model.Catalog.Select(i => ItemTextTable.Render(i, _model.Settings.Template)).ToList()), encoder.Dimension);
        float[] generated = Unit(encoder.Encode(e.Generated.Select(g => g.Text).ToList()), encoder.Dimension);
        Assert.That(e.Generated, Is.Not.Empty);
        for (int i = 0; i < _model.ItemCount; i++)
        {
            double nearest = Enumerable.Range(0, e.Generated.Count).Min(g => Math.Sqrt(Enumerable.Range(0, encoder.Dimension)
                .Sum(d => Math.Pow(items[(i * encoder.Dimension) + d] - generated[(g * encoder.Dimension) + d], 2))));
            if (!history.Contains(i))
            {
                Assert.That(scores[i], Is.EqualTo(-nearest).Within(1e-4), $"item {i}");
            }
        }

        float[] own = new float[_model.ItemCount];
        _ctx.Grounding.Create(_model, options).Score([history], own);
        Assert.That(scores, Is.Not.EqualTo(own), "another space ranks differently");
    }

    private static float[] Unit(float[] rows, int d)
    {
        for (int r = 0; r < rows.Length; r += d)
        {
            float norm = MathF.Sqrt(rows.AsSpan(r, d).ToArray().Sum(x => x * x));
            for (int j = 0; j < d; j++)
            {
                rows[r + j] /= norm;
            }
        }

        return rows;
    }

    /// <summary>Hashed character trigrams (plus one constant feature, so no text is the zero vector); records what it embeds.</summary>
    private sealed class CharacterTrigramEncoder : Models.Embeddings.ITextEncoder
    {
        public List<string> Seen { get; } = [];

        public int Dimension => 64;

        public float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellation = default)
        {
            Seen.AddRange(texts);
            float[] v = new float[texts.Count * Dimension];
            for (int t = 0; t < texts.Count; t++)
            {
                string s = $"  {texts[t].ToLowerInvariant()} ";
                v[t * Dimension] = 0.5f;
                for (int c = 0; c + 3 <= s.Length; c++)
                {
                    uint h = 2166136261;
                    foreach (char ch in s.AsSpan(c, 3))
                    {
                        h = (h ^ ch) * 16777619;
                    }

                    v[(t * Dimension) + 1 + (int)(h % (uint)(Dimension - 1))] += 1f;
                }
            }

            return v;
        }
    }
}
