using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Models.Embeddings;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.Grounding;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Recommenders.SasRec;
using Microsoft.ML;
using Microsoft.ML.Transforms.Text;

namespace CalRec.MLNet.Tests;

public sealed class LlmEstimatorTests
{
    /// <summary>A text encoder that sees only the brand attribute (one-hot): routines stay within a brand.</summary>
    private sealed class BrandEncoder : ITextEncoder
    {
        public List<string> Seen { get; } = [];

        public Dictionary<string, int> Brands { get; } = new(StringComparer.Ordinal);

        public int Dimension => 64;

        public float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellation = default)
        {
            float[] result = new float[texts.Count * Dimension];
            for (int i = 0; i < texts.Count; i++)
            {
                Seen.Add(texts[i]);
                string brand = texts[i].Split("; ").Single(p => p.StartsWith("brand: ", StringComparison.Ordinal))["brand: ".Length..];
                if (!Brands.TryGetValue(brand, out int b))
                {
                    Brands[brand] = b = Brands.Count;
                }

                result[(i * Dimension) + (b % Dimension)] = 1f;
            }

            return result;
        }
    }

    [Test]
    public void LlmSeqSimAndLlm2SasRecReadTheCatalogueThroughMLNetTextTransforms()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(100);
        IDataView interactions = ml.View(Tables.Interactions(data));
        // ML.NET's own transforms on the catalogue before it reaches the trainer: lower-cased titles and brands.
        IDataView rawItems = ml.View(Tables.Items(data));
        IDataView items = ml.Transforms.Text.NormalizeText("Title", caseMode: TextNormalizingEstimator.CaseMode.Lower)
            .Append(ml.Transforms.Text.NormalizeText("Brand", caseMode: TextNormalizingEstimator.CaseMode.Lower))
            .Fit(rawItems).Transform(rawItems);
        var encoder = new BrandEncoder();
        var options = new LlmSeqSimEstimatorOptions { Items = items, ItemTextColumnNames = ["Brand"], Trainer = new LlmSeqSimTrainer.Options { Aggregation = SessionAggregation.Last } };

        SequentialRecommendationTransformer sim = ml.SequentialRecommendation().Trainers.LlmSeqSim(encoder, options).Fit(interactions);
        IDataView test = ml.SequentialRecommendation().Data.LeaveOneOutTestSet(interactions, options);
        double simNdcg = ml.SequentialRecommendation().Evaluate(sim.Transform(test), bootstrapSamples: 0)["ndcg@10"].Value;
        SequentialRecommendationTransformer pop = ml.SequentialRecommendation().Trainers.MostPopular(new MostPopularEstimatorOptions { Items = items }).Fit(interactions);
        double popNdcg = ml.SequentialRecommendation().Evaluate(pop.Transform(test), bootstrapSamples: 0)["ndcg@10"].Value;

        Assert.That(encoder.Seen, Has.Count.EqualTo(data.ItemCount));
        Assert.That(encoder.Seen.Select(t => t.Replace("brand: ", "", StringComparison.Ordinal)), Is.All.Matches<string>(t => t == t.ToLowerInvariant()), "the encoder saw the normalized texts");
        Assert.That(encoder.Seen[0], Does.StartWith($"title: {data.Items[0].Title.ToLowerInvariant()}; brand: "));
        Assert.That(sim.Model.Kind, Is.EqualTo(LlmSeqSimTrainer.ModelKind));
        Assert.That(simNdcg, Is.GreaterThan(2 * popNdcg), "brand similarity follows the routines, popularity cannot");

        var sasOptions = new SasRecEstimatorOptions { Items = items, ItemTextColumnNames = ["Brand"], Trainer = new SasRecTrainer.Options { Hidden = 16, MaxLength = 10, MaxEpochs = 1, Seed = 2 } };
        SequentialRecommendationTransformer llm2 = ml.SequentialRecommendation().Trainers.Llm2SasRec(encoder, sasOptions).Fit(interactions);
        Assert.That(llm2.Model.Kind, Is.EqualTo(SasRecTrainer.Llm2SasRecModelKind));
    }

    [Test]
    public void FilterRowsByColumnBeforeFitEqualsTheMinRatingOption()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(30);
        IDataView interactions = ml.View(Tables.Interactions(data));
        IDataView filtered = ml.Data.FilterRowsByColumn(interactions, "Rating", lowerBound: 3);

        var viaFilter = ml.SequentialRecommendation().Trainers.MostPopular().Fit(filtered);
        var viaOption = ml.SequentialRecommendation().Trainers.MostPopular(new MostPopularEstimatorOptions { MinRating = 3 }).Fit(interactions);

        Assert.That(viaFilter.Model.Catalog.Select(i => i.Id), Is.EqualTo(viaOption.Model.Catalog.Select(i => i.Id)));
        IDataView histories = ml.SequentialRecommendation().Data.Histories(filtered);
        var a = ml.Data.CreateEnumerable<ModelOutput>(viaFilter.Transform(histories), false).Select(r => r.PredictedItemIds).ToList();
        var b = ml.Data.CreateEnumerable<ModelOutput>(viaOption.Transform(histories), false).Select(r => r.PredictedItemIds).ToList();
        Assert.That(a, Is.EqualTo(b));
        Assert.That(ml.Data.CreateEnumerable<InteractionRow>(filtered, false).Count(), Is.LessThan(ml.Data.CreateEnumerable<InteractionRow>(interactions, false).Count()));
    }

    private static CalRecTrainer.Options TinyCalRec(int pretrainSteps = 10, int validationUsers = 40) => new()
    {
        Backbone = "tiny",
        VocabularySize = 400,
        PretrainSteps = pretrainSteps,
        PretrainSequenceLength = 64,
        Stage1 = new CalRecStageOptions { Epochs = 1, LearningRate = 2e-3f },
        Stage2 = new CalRecStageOptions { Epochs = 1, LearningRate = 2e-3f },
        BatchSize = 16,
        MaxHistory = 4,
        MaxItemTokens = 12,
        ValidationUsers = validationUsers,
        Members = 1,
        Seed = 3,
    };

    [Test]
    public void CalRecThroughTablesEqualsTheLibraryTrainerAndAMixtureWithoutTheTargetKeepsItOutOfStageOne()
    {
        // calrec train and the demo go this way: the target and the mixture datasets become one table and one catalogue.
        InteractionDataset data = Tables.Synthetic(30);
        InteractionDataset target = data.ForDomain("beauty");
        List<InteractionDataset> sources = data.Domains.Where(d => d != "beauty").Select(data.ForDomain).ToList();
        var split = new LeaveOneOutSplit(target);
        var evaluation = new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 };

        var direct = new RecContext().Trainers.CalRec(TinyCalRec());
        var directSteps = new List<CalRecProgress>();
        direct.Progress += (_, e) => directSteps.Add(e);
        RecommenderModel library = direct.Fit(split, sources);

        var ml = new MLContext(seed: 1);
        InteractionTables tables = ml.SequentialRecommendation().Data.FromDatasets([target, .. sources]);
        var steps = new List<CalRecProgress>();
        var options = new CalRecEstimatorOptions
        {
            Items = tables.Items,
            TargetDomain = "beauty",
            MixtureDomains = [.. sources.Select(d => d.Domains.Single())],
            Progress = new Collect(steps),
            Trainer = TinyCalRec(),
        };
        RecommenderModel viaTables = ml.SequentialRecommendation().Trainers.CalRec(options).Fit(tables.Interactions).Model;

        Assert.That(steps.Select(e => (e.Phase, e.Step, e.Loss)), Is.EqualTo(directSteps.Select(e => (e.Phase, e.Step, e.Loss))), "the same steps with the same losses");
        Assert.That(steps.Select(e => e.Phase).Distinct(), Is.SupersetOf(new[] { "stage1", "stage2" }));
        Assert.That(RecommendationEvaluator.Evaluate(viaTables, split.Test, evaluation)["ndcg@10"].Value,
            Is.EqualTo(RecommendationEvaluator.Evaluate(library, split.Test, evaluation)["ndcg@10"].Value).Within(1e-9));

        // With every domain in stage 1 (the default) the target's training windows join the mixture: more stage-1 steps.
        options.MixtureDomains = null;
        steps.Clear();
        ml.SequentialRecommendation().Trainers.CalRec(options).Fit(tables.Interactions);
        Assert.That(steps.Where(e => e.Phase == "stage1").Max(e => e.TotalSteps), Is.GreaterThan(directSteps.Where(e => e.Phase == "stage1").Max(e => e.TotalSteps)));
        options.MixtureDomains = ["garden"];
        Assert.That(() => ml.SequentialRecommendation().Trainers.CalRec(options).Fit(tables.Interactions),
            Throws.ArgumentException.With.Message.Contains("MixtureDomains: 'garden' is not a domain"));
    }

    private sealed class Collect(List<CalRecProgress> into) : IProgress<CalRecProgress>
    {
        public void Report(CalRecProgress value) => into.Add(value);
    }

    [Test]
    public void CalRecTrainsStageOneOnTheDomainsOfTheTableAndStageTwoOnTheTarget()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => log.Add(e.Message);
        InteractionDataset data = Tables.Synthetic(40);
        IDataView interactions = ml.View(Tables.Interactions(data));
        var options = new CalRecEstimatorOptions
        {
            Items = ml.View(Tables.Items(data)),
            ItemTextColumnNames = ["Brand"],
            TargetDomain = "beauty",
            Trainer = TinyCalRec(pretrainSteps: 20, validationUsers: 50),
        };

        SequentialRecommendationTransformer model = ml.SequentialRecommendation().Trainers.CalRec(options).Fit(interactions);

        Assert.That(model.Model, Is.InstanceOf<CalRecModel>());
        Assert.That(model.Model.Catalog.Select(i => i.Domain).Distinct(), Is.EqualTo(new[] { "beauty" }), "the model recommends from the target domain");
        Assert.That(log, Has.Some.Contains("stage1:").And.Some.Contains("stage2:"), "both stages ran, reported through MLContext.Log");
        IDataView test = ml.SequentialRecommendation().Data.LeaveOneOutTestSet(interactions, options, domain: "beauty");
        var split = new LeaveOneOutSplit(data.ForDomain("beauty"));
        RecommendationMetrics viaTable = ml.SequentialRecommendation().Evaluate(model.Transform(test), bootstrapSamples: 0);
        RecommendationMetrics viaLibrary = RecommendationEvaluator.Evaluate(model.Model, split.Test, new RecommendationEvaluatorOptions { Ks = [1, 5, 10], BootstrapSamples = 0 });
        Assert.That(viaTable.Users, Is.EqualTo(split.Test.Count));
        Assert.That(viaTable["ndcg@10"].Value, Is.EqualTo(viaLibrary["ndcg@10"].Value).Within(1e-9));
        Assert.Throws<ArgumentException>(() => ml.SequentialRecommendation().Trainers.CalRec(new CalRecEstimatorOptions { Items = options.Items, TargetDomain = "garden" }).Fit(interactions));

        // The backbone, tokenizer and item index travel inside ML.NET's model zip.
        string path = Path.Combine(Path.GetTempPath(), $"calrec-mlnet-{Guid.NewGuid():N}.zip");
        try
        {
            ml.SequentialRecommendation().SaveModel(model, test.Schema, path);
            ITransformer loaded = new MLContext().SequentialRecommendation().LoadModel(path, out _);
            var before = ml.Data.CreateEnumerable<ModelOutput>(model.Transform(test), false).ToList();
            var after = ml.Data.CreateEnumerable<ModelOutput>(loaded.Transform(test), false).ToList();
            Assert.That(after.Select(r => r.PredictedItemIds), Is.EqualTo(before.Select(r => r.PredictedItemIds)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void GroundItemsRanksAlongTheChosenPathTunesOnValidationAndTravelsInTheModelZip()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(30);
        IDataView interactions = ml.View(Tables.Interactions(data));
        var options = new CalRecEstimatorOptions
        {
            Items = ml.View(Tables.Items(data)),
            ItemTextColumnNames = ["Brand"],
            TargetDomain = "office",
            Trainer = new CalRecTrainer.Options
            {
                Backbone = "tiny", VocabularySize = 400, PretrainSteps = 20, PretrainSequenceLength = 64, BatchSize = 16, MaxHistory = 4, MaxItemTokens = 12, ValidationUsers = 30, Members = 1, Seed = 3,
                Stage1 = new CalRecStageOptions { Epochs = 1, LearningRate = 2e-3f },
                Stage2 = new CalRecStageOptions { Epochs = 1, LearningRate = 2e-3f },
            },
        };
        SequentialRecommendationTransformer dense = ml.SequentialRecommendation().Trainers.CalRec(options).Fit(interactions);
        IDataView test = ml.SequentialRecommendation().Data.LeaveOneOutTestSet(interactions, options, domain: "office");
        IDataView validation = ml.SequentialRecommendation().Data.LeaveOneOutValidationSet(interactions, options, domain: "office");

        var bm25Options = new GroundingOptions { Path = GroundingPath.Bm25, Candidates = 2 };
        SequentialRecommendationTransformer bm25 = ml.SequentialRecommendation().Transforms.GroundItems(dense, bm25Options).Fit(validation);
        var viaTable = ml.Data.CreateEnumerable<ModelOutput>(bm25.Transform(test), false).Select(r => r.PredictedItemIds).ToList();
        var model = (CalRecModel)bm25.Model;
        var split = new LeaveOneOutSplit(data.ForDomain("office"));
        GroundedScorer library = new RecContext().Grounding.Create(model, bm25Options);
        var histories = split.Test.Select(c => new UserHistory(split.Data.Users[c.User], c.History.Select(i => split.Data.Items[i].Id).ToList())).ToList();
        var blocks = new BlockRecommender(model, 10, excludeSeen: true, scorer: library);
        var expected = histories.Chunk(BlockRecommender.BatchSize).SelectMany(b => blocks.Recommend(b)).Select(r => r.Items.Select(i => i.ItemId).ToArray()).ToList();
        var denseLists = ml.Data.CreateEnumerable<ModelOutput>(dense.Transform(test), false).Select(r => r.PredictedItemIds).ToList();

        Assert.That(model.Grounding.Path, Is.EqualTo(GroundingPath.Bm25));
        Assert.That(viaTable, Is.EqualTo(expected), "the transformer ranks as the library's grounded scorer");
        Assert.That(viaTable, Is.Not.EqualTo(denseLists), "BM25 grounding changes the lists");

        // Tuned fusion: weights chosen on the validation table; the settings travel in the zip.
        SequentialRecommendationTransformer fusion = ml.Transforms
            .GroundItems(dense, new GroundingOptions { Path = GroundingPath.Fusion, Candidates = 2 }, tune: true, validationUsers: 30).Fit(validation);
        string path = Path.Combine(Path.GetTempPath(), $"calrec-ground-{Guid.NewGuid():N}.zip");
        try
        {
            ml.SequentialRecommendation().SaveModel(fusion, test.Schema, path);
            var loaded = (SequentialRecommendationTransformer)new MLContext().SequentialRecommendation().LoadModel(path, out _);
            Assert.That(((CalRecModel)loaded.Model).Grounding.Path, Is.EqualTo(GroundingPath.Fusion));
            Assert.That(((CalRecModel)loaded.Model).Grounding.FusionWeights, Is.EqualTo(((CalRecModel)fusion.Model).Grounding.FusionWeights));
            Assert.That(ml.Data.CreateEnumerable<ModelOutput>(loaded.Transform(test), false).Select(r => r.PredictedItemIds),
                Is.EqualTo(ml.Data.CreateEnumerable<ModelOutput>(fusion.Transform(test), false).Select(r => r.PredictedItemIds)));
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Throws<ArgumentException>(() => ml.SequentialRecommendation().Transforms.GroundItems(
            ml.SequentialRecommendation().Trainers.MostPopular().Fit(interactions), new GroundingOptions()));
    }
}
