using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Data.Synthetic;
using CalRec.Models.Adapters;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Models.Training;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.MostPopular;
using CalRec.Tensors;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Optim;
using CalRec.Torch.CalRec;
using CalRec.Torch.Decoder;
using static TorchSharp.torch;

namespace CalRec.Torch.Tests;

/// <summary>CALRec's step on TorchSharp against our engine's, and CALRec trained end to end through the engine seam.</summary>
public sealed class CalRecEngineTests
{
    internal static (DecoderLM Model, HistoryBatch Batch) Setup(bool catalogueNegatives = false, Pooling pooling = Pooling.Mean, bool identities = false, bool logQ = false)
    {
        (DecoderLM model, List<HistoryExample> examples, ItemNegativeBank? bank) = Examples(catalogueNegatives, pooling, identities);
        return (model, HistoryBatch.Build(examples, bank, correction: logQ ? new SamplingCorrection([examples], [1.0]) : null));
    }

    private static (DecoderLM Model, List<HistoryExample> Examples, ItemNegativeBank? Bank) Examples(bool catalogueNegatives, Pooling pooling, bool identities = false)
    {
        InteractionDataset data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 5, UsersPerDomain = 20 }).ToDataset().ForDomain("office");
        var tok = new RecContext(seed: 1).Text.TrainTokenizer(data.Items, 400);
        var model = new DecoderLM(DecoderPresets.Find("tiny")! with { VocabSize = tok.VocabularySize }, seed: 9);
        var table = new ItemTextTable(data.Items, tok, null, 12);
        if (identities)
        {
            // The item-ID hybrid: one token per item after the vocabulary, each item's text starting with it.
            int first = model.Config.VocabSize;
            ItemTextTable text = table;
            model = model.WithAddedTokens(data.ItemCount, item => text.Tokens(item), seed: 9);
            table = new ItemTextTable(data.Items, tok, null, 12, first);
        }

        // Item 7 twice as a target: the duplicate-negative mask is exercised.
        var examples = data.Sequences.Take(4).Select((s, u) => new HistoryExample(table, 0, u, s.Take(5).ToArray()))
            .Append(new HistoryExample(table, 0, 4, [3, 7, 7])).ToList();
        ItemNegativeBank? bank = null;
        if (catalogueNegatives)
        {
            bank = new ItemNegativeBank([table], model.Config.HiddenSize, pooling);
            bank.Refresh(model, CancellationToken.None);
        }

        return (model, examples, bank);
    }

    [Test]
    public void TheEngineDropsUnitsAsTheConfigurationSaysSeededByTheStepSettings()
    {
        (DecoderLM model, HistoryBatch batch) = Setup();
        var settings = new CalRecStepSettings(new LossWeights(1f, 1f, 1f), Pooling.Mean, 0.1f, 0.01f, 1f, 0.9f, 0.999f, 3);
        float FirstLoss(float dropout, ulong seed)
        {
            using var engine = new TorchCalRecEngine(model.WithDropout(dropout, seed: 1), settings with { Seed = seed }, CPU);
            return engine.Step([batch], 0f).Total;
        }

        float plain = FirstLoss(0f, 3), dropped = FirstLoss(0.3f, 3);
        Assert.That(dropped, Is.Not.EqualTo(plain), "the configuration's dropout applies in training");
        Assert.That(FirstLoss(0.3f, 3), Is.EqualTo(dropped), "the masks follow the step settings' seed");
        Assert.That(FirstLoss(0.3f, 4), Is.Not.EqualTo(dropped));
    }

    [TestCase(Pooling.Mean, false)]
    [TestCase(Pooling.LastToken, false)]
    [TestCase(Pooling.LastToken, true)]
    [TestCase(Pooling.LastToken, false, true)]
    [TestCase(Pooling.Mean, false, true, true)]
    [TestCase(Pooling.LastToken, false, true, false, 0f)]
    [TestCase(Pooling.LastToken, false, true, false, 0.5f)]
    public void OneStepHasOurLossTermsAndGradients(Pooling pooling, bool catalogueNegatives, bool identities = false, bool logQ = false, float textLm = 1f)
    {
        (DecoderLM model, HistoryBatch batch) = Setup(catalogueNegatives, pooling, identities, logQ);
        Assert.That(batch.Negatives is not null, Is.EqualTo(catalogueNegatives));
        Assert.That(batch.KeyLogitOffsets.Distinct().Count(), logQ ? Is.GreaterThan(1) : Is.Zero, "with the correction, items targeted more often than others have other offsets");
        Assert.That(batch.Identities is not null && batch.IdentityLmPositions.Length > 0, Is.EqualTo(identities));
        var weights = new LossWeights(1f, 0.5f, 2f, textLm);
        TorchDecoderLM torchModel = TorchWeights.ToTorch(model);

        model.zero_grad();
        LossValues want;
        using (TensorScope.Begin())
        {
            CalRecObjective.Loss(model, batch, weights, pooling, 0.1f, out want).backward();
        }

        Tensor loss = TorchCalRecObjective.Loss(torchModel, batch, weights, pooling, 0.1f, out LossValues got);
        loss.backward();

        foreach ((float g, float w, string term) in new[] { (got.Total, want.Total, "total"), (got.Lm, want.Lm, "L_NIG"), (got.ItemItem, want.ItemItem, "L_TT"), (got.UserItem, want.UserItem, "L_UT") })
        {
            Assert.That(g, Is.EqualTo(w).Within(1e-4 * Math.Abs(w)), term);
        }

        var grads = torchModel.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.contiguous().data<float>().ToArray());
        foreach ((string name, ManagedTensor p) in model.named_parameters())
        {
            float[] w = p.grad!.ToArray();
            double scale = Math.Max(1e-6, w.Max(Math.Abs));
            Assert.That(Fixtures.MaxAbsDiff(grads[name], w) / scale, Is.LessThanOrEqualTo(1e-4), name);
        }
    }

    [Test]
    public void MicroBatchesAddUpToOneStepOnTheWholeBatchForTheLmTerm()
    {
        (DecoderLM model, List<HistoryExample> examples, _) = Examples(false, Pooling.LastToken);
        var settings = new CalRecStepSettings(new LossWeights(1f, 0f, 0f), Pooling.LastToken, 0.1f, 0.01f, 1f, 0.9f, 0.999f, 3);
        List<HistoryBatch> whole = CalRecTrainer.MicroBatches(examples, 1, null), split = CalRecTrainer.MicroBatches(examples, 2, null);
        Assert.That(split.Select(b => b.Rows), Is.EqualTo(new[] { 2, 3 }));

        using var a = new TorchCalRecEngine(model, settings, CPU);
        using var b = new TorchCalRecEngine(model, settings, CPU);
        LossValues one = a.Step(whole, 1e-3f), two = b.Step(split, 1e-3f);
        Assert.That(two.Lm, Is.EqualTo(one.Lm).Within(1e-5 * one.Lm), "the step's LM loss is the mean over every position either way");
        Assert.That(two.Tokens, Is.EqualTo(one.Tokens));

        DecoderLM afterOne = Copy(model), afterTwo = Copy(model);
        a.CopyWeightsTo(afterOne);
        b.CopyWeightsTo(afterTwo);
        var expected = afterOne.named_parameters().ToDictionary(p => p.Name, p => p.Parameter.ToArray());
        foreach ((string name, ManagedTensor p) in afterTwo.named_parameters())
        {
            Assert.That(Fixtures.MaxAbsDiff(p.ToArray(), expected[name]), Is.LessThanOrEqualTo(1e-5), name);
        }

        static DecoderLM Copy(DecoderLM m) => new(m.Config, seed: 1);
    }

    [Test]
    public void TheEnginesAdamWMomentsTravelThroughOurOptimizerSoThatAResumedStageStepsAsAnUninterruptedOne()
    {
        (_, DecoderLM model, List<HistoryBatch> batch, CalRecStepSettings settings) = OneBatchWithoutDropout();
        using var straight = new TorchCalRecEngine(model, settings, CPU);
        straight.Step(batch, 1e-3f);
        straight.Step(batch, 1e-3f);

        // A checkpoint: the weights into our model, the moments into our optimizer (which the checkpoint writes).
        var saved = new DecoderLM(model.Config, seed: 2);
        straight.CopyWeightsTo(saved);
        var optimizer = new AdamWOptimizer(AdamWOptimizer.DecayGroups(saved.parameters(), 0.01f), 1e-3f);
        straight.CopyOptimizerStateTo(saved, optimizer);
        Assert.That(optimizer.StepCount, Is.EqualTo(2));
        Assert.That(optimizer.State().Select(s => s.V.Max()), Has.All.GreaterThan(0f), "every parameter has second moments");

        using var resumed = new TorchCalRecEngine(saved, settings, CPU);
        resumed.LoadOptimizerStateFrom(saved, optimizer);
        using var restarted = new TorchCalRecEngine(saved, settings, CPU);
        straight.Step(batch, 1e-3f);
        resumed.Step(batch, 1e-3f);
        restarted.Step(batch, 1e-3f);
        DecoderLM a = new(model.Config, seed: 3), b = new(model.Config, seed: 3), c = new(model.Config, seed: 3);
        straight.CopyWeightsTo(a);
        resumed.CopyWeightsTo(b);
        restarted.CopyWeightsTo(c);
        float[] want = a.parameters().SelectMany(p => p.ToArray()).ToArray();
        Assert.That(Fixtures.MaxAbsDiff(b.parameters().SelectMany(p => p.ToArray()).ToArray(), want), Is.LessThanOrEqualTo(1e-6), "resumed with its moments");
        Assert.That(Fixtures.MaxAbsDiff(c.parameters().SelectMany(p => p.ToArray()).ToArray(), want), Is.GreaterThan(1e-4), "fresh moments take another step");
    }

    [Test]
    public void TheEnginesWeightAverageFollowsItsStepsAsOursDoesAndSwapsAndTravelsThroughOurs()
    {
        (DecoderLM start, DecoderLM model, List<HistoryBatch> batch, CalRecStepSettings settings) = OneBatchWithoutDropout();
        using var engine = new TorchCalRecEngine(model, settings, CPU);
        engine.StartAverage(new WeightAverage(model.named_parameters(), 0.5f));

        // Ours, fed the engine's weights after each of its steps: the average the engine must hold.
        var mirror = new DecoderLM(model.Config, seed: 2);
        mirror.load_state_dict(start.state_dict());
        var expected = new WeightAverage(mirror.named_parameters(), 0.5f);
        for (int i = 0; i < 4; i++)
        {
            engine.Step(batch, 1e-2f);
            engine.CopyWeightsTo(mirror);
            expected.Update();
        }

        var got = new WeightAverage(new DecoderLM(model.Config, seed: 4).named_parameters(), 0.5f);
        engine.CopyAverageTo(got);
        Assert.That(got.Updates, Is.EqualTo(4));
        float[] want = expected.Values.SelectMany(v => v.Values).ToArray(), raw = mirror.parameters().SelectMany(p => p.ToArray()).ToArray();
        Assert.That(Fixtures.MaxAbsDiff(got.Values.SelectMany(v => v.Values).ToArray(), want), Is.LessThanOrEqualTo(1e-6));
        Assert.That(Fixtures.MaxAbsDiff(want, raw), Is.GreaterThan(1e-4), "the average lags the weights");

        // Swapped in, the engine's weights (and its validation towers) are the average; swapped back, the steps' weights.
        var seen = new DecoderLM(model.Config, seed: 5);
        engine.SwapAverage();
        engine.CopyWeightsTo(seen);
        Assert.That(Fixtures.MaxAbsDiff(seen.parameters().SelectMany(p => p.ToArray()).ToArray(), want), Is.LessThanOrEqualTo(1e-6));
        engine.SwapAverage();
        engine.CopyWeightsTo(seen);
        Assert.That(seen.parameters().SelectMany(p => p.ToArray()).ToArray(), Is.EqualTo(raw));
    }

    [TestCase(Pooling.Mean, false)]
    [TestCase(Pooling.LastToken, true)]
    public void ValidationOnTheDeviceScoresAsOurEngineDoes(Pooling pooling, bool identities)
    {
        (DecoderLM model, List<HistoryExample> examples, _) = Examples(catalogueNegatives: false, pooling, identities);
        ItemTextTable table = examples[0].Table;
        var towers = new TorchCalRecTowers(TorchWeights.ToTorch(model));
        var ours = new ManagedTowers(model);
        var settings = new CalRecSettings(null, pooling, 4, 12, 4 * 14, table.IdentityBase);

        // The item tower over the whole catalogue, normalized, as validation builds its index.
        float[] want = CalRecScorer.EncodeCatalogue(ours, table, pooling);
        float[] got = CalRecScorer.EncodeCatalogue(towers, table, pooling);
        Assert.That(Fixtures.MaxAbsDiff(got, want), Is.LessThanOrEqualTo(1e-4));
        Assert.That(Fixtures.MaxAbsDiff(towers.OutputRows(3, 5), ours.OutputRows(3, 5)), Is.EqualTo(0));

        // The user tower and, with identity tokens, the identity head: every item's score for every history.
        int[][] histories = examples.Select(e => e.Items[..^1]).ToArray();
        float weight = identities ? 0.05f : 0f;
        var managedScorer = new CalRecScorer(model, null!, table, settings, want, identityWeight: weight);
        var deviceScorer = new CalRecScorer(model, null!, table, settings, got, identityWeight: weight, towers: towers);
        float[] a = new float[histories.Length * table.Count], b = new float[a.Length];
        managedScorer.Score(histories, a);
        deviceScorer.Score(histories, b);
        Assert.That(Fixtures.MaxAbsDiff(b, a), Is.LessThanOrEqualTo(1e-4));
        Assert.That(a.Distinct().Count(), Is.GreaterThan(a.Length / 2), "real scores, not a constant");
    }

    /// <summary>
    /// The example model (<c>Start</c>), a copy of it without dropout (two engines would draw their masks from one
    /// generator), one batch of the examples and the step settings of the engine tests that step it.
    /// </summary>
    private static (DecoderLM Start, DecoderLM Model, List<HistoryBatch> Batch, CalRecStepSettings Settings) OneBatchWithoutDropout()
    {
        (DecoderLM start, List<HistoryExample> examples, _) = Examples(false, Pooling.LastToken);
        var model = new DecoderLM(start.Config with { Dropout = 0f }, seed: 1);
        model.load_state_dict(start.state_dict());
        return (start, model, CalRecTrainer.MicroBatches(examples, 1, null),
            new CalRecStepSettings(new LossWeights(1f, 1f, 1f), Pooling.LastToken, 0.1f, 0.01f, 1f, 0.9f, 0.999f, 3));
    }

    /// <summary>A tiny backbone from scratch finetuned on the target alone, without dropout (the engines draw their masks from different generators).</summary>
    private static CalRecTrainer.Options TinyStage2(int pretrainSteps, int epochs, int batchSize) => new()
    {
        Dropout = 0f,
        Backbone = "tiny",
        VocabularySize = 400,
        PretrainSteps = pretrainSteps,
        PretrainSequenceLength = 64,
        Stage1 = new CalRecStageOptions { Epochs = 0 },
        Stage2 = new CalRecStageOptions { Epochs = epochs, LearningRate = 2e-3f },
        BatchSize = batchSize,
        MaxHistory = 4,
        MaxItemTokens = 10,
        Members = 1,
        Seed = 3,
    };

    [TestCase(0f)]
    [TestCase(0.9f)]
    public void CalRecTrainedThroughTheTorchSharpEngineLearnsAsOursDoes(float weightAverage)
    {
        InteractionDataset data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 5, UsersPerDomain = 40 }).ToDataset().ForDomain("beauty");
        var split = new LeaveOneOutSplit(data);
        CalRecTrainer.Options options = TinyStage2(pretrainSteps: 20, epochs: 3, batchSize: 16);
        options.ValidationUsers = 0;
        // The text-only model: engine parity of the identity tokens' terms is tested step by step above.
        options.ItemIdentityTokens = false;
        options.WeightAverage = weightAverage;
        var evaluation = new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 };

        CalRecModel managed = new RecContext(seed: 1).Trainers.CalRec(options).Fit(split, []);
        CalRecTrainer torchTrainer = new RecContext(seed: 1).Trainers.CalRec(options);
        int engines = 0;
        torchTrainer.Engine = (model, settings) =>
        {
            engines++;
            return new TorchCalRecEngine(model, settings, CPU);
        };
        var steps = new List<CalRecProgress>();
        torchTrainer.Progress += (_, e) => steps.Add(e);
        CalRecModel onTorch = torchTrainer.Fit(split, []);

        double ours = RecommendationEvaluator.Evaluate(managed, split.Test, evaluation)["ndcg@10"].Value;
        double theirs = RecommendationEvaluator.Evaluate(onTorch, split.Test, evaluation)["ndcg@10"].Value;
        double popularity = RecommendationEvaluator.Evaluate(new RecContext().Trainers.MostPopular().Fit(split), split.Test, evaluation)["ndcg@10"].Value;
        TestContext.Out.WriteLine($"test NDCG@10: ours {ours:F4}, TorchSharp engine {theirs:F4}, MostPopular {popularity:F4}");
        Assert.That(steps.Where(s => s.Phase == "stage2").Select(s => s.Loss).Last(), Is.LessThan(steps.First(s => s.Phase == "stage2").Loss), "the loss falls");
        Assert.That(engines, Is.EqualTo(1), "stage 2 ran on the engine (there is no stage 1 here)");
        Assert.That(theirs, Is.GreaterThan(popularity + 0.01), "it learned the routines");
        Assert.That(theirs, Is.EqualTo(ours).Within(0.02), "about as well as our engine from the same start");
        Assert.That(onTorch.Towers.ItemEmbeddings.ToArray(), Is.Not.EqualTo(managed.Towers.ItemEmbeddings.ToArray()), "a different engine, not the same numbers");
        Assert.That(Fixtures.MaxAbsDiff(onTorch.Towers.ItemEmbeddings.ToArray(), managed.Towers.ItemEmbeddings.ToArray()), Is.LessThan(0.05), "but close ones");
    }

    [Test]
    public void EachMemberOfARunOnTheEngineIsTheEnginesRunOfItsSeed()
    {
        InteractionDataset data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 5, UsersPerDomain = 30 }).ToDataset().ForDomain("beauty");
        var split = new LeaveOneOutSplit(data);
        int engines = 0;
        CalRecModel Fit(ulong seed, int members)
        {
            CalRecTrainer.Options o = TinyStage2(pretrainSteps: 8, epochs: 2, batchSize: 8);
            o.Seed = seed;
            o.Members = members;
            CalRecTrainer trainer = new RecContext(seed: 1).Trainers.CalRec(o);
            trainer.Engine = (model, settings) =>
            {
                engines++;
                return new TorchCalRecEngine(model, settings, CPU);
            };
            return trainer.Fit(split, []);
        }

        CalRecModel both = Fit(3, 2);
        Assert.That(engines, Is.EqualTo(2), "each member's stage 2 ran on the engine");
        CalRecModel first = Fit(3, 1), second = Fit(4, 1);
        Assert.That(Fixtures.MaxAbsDiff(both.Members[0].ItemEmbeddings.ToArray(), first.Towers.ItemEmbeddings.ToArray()), Is.LessThanOrEqualTo(1e-5));
        Assert.That(Fixtures.MaxAbsDiff(both.Members[1].ItemEmbeddings.ToArray(), second.Towers.ItemEmbeddings.ToArray()), Is.LessThanOrEqualTo(1e-5));
        Assert.That(Fixtures.MaxAbsDiff(both.Members[1].ItemEmbeddings.ToArray(), first.Towers.ItemEmbeddings.ToArray()), Is.GreaterThan(1e-3), "the members differ");
    }

    [Test]
    public void AKilledRunOnTheEngineResumesWithItsWeightAverageToTheSameModel()
    {
        InteractionDataset data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 5, UsersPerDomain = 30 }).ToDataset().ForDomain("beauty");
        var split = new LeaveOneOutSplit(data);
        DirectoryInfo dir = Directory.CreateTempSubdirectory("calrec-engine-resume-");
        try
        {
            CalRecTrainer.Options Settings(string? checkpoint)
            {
                CalRecTrainer.Options o = TinyStage2(pretrainSteps: 8, epochs: 2, batchSize: 8);
                o.WeightAverage = 0.9f;
                o.CheckpointDirectory = checkpoint;
                o.CheckpointMinutes = 1e-9; // every step
                return o;
            }

            CalRecModel Fit(CalRecTrainer.Options o, Action<CalRecProgress>? progress = null)
            {
                CalRecTrainer trainer = new RecContext(seed: 1).Trainers.CalRec(o);
                trainer.Engine = TorchCalRecEngine.On(CPU);
                if (progress is not null)
                {
                    trainer.Progress += (_, e) => progress(e);
                }

                return trainer.Fit(split, []);
            }

            CalRecModel straight = Fit(Settings(null));
            string checkpoint = Path.Combine(dir.FullName, "killed");
            Assert.That(() => Fit(Settings(checkpoint), e =>
            {
                if (e.Phase == "stage2" && e.Step == 3)
                {
                    throw new InvalidOperationException("killed");
                }
            }), Throws.InvalidOperationException.With.Message.EqualTo("killed"));
            Assert.That(File.Exists(Path.Combine(checkpoint, "average.safetensors")), "the checkpoint holds the engine's average");

            CalRecModel resumed = Fit(CalRecTrainer.Options.FromCheckpoint(checkpoint));
            Assert.That(resumed.Training.ValidationNdcg10, Is.EqualTo(straight.Training.ValidationNdcg10).Within(1e-6));
            Assert.That(Fixtures.MaxAbsDiff(resumed.Towers.ItemEmbeddings.ToArray(), straight.Towers.ItemEmbeddings.ToArray()), Is.LessThanOrEqualTo(1e-5));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public void LoraAdaptersMirrorOntoTorchSharpWithOurLogitsGradientsAndFrozenBase()
    {
        (DecoderLM model, HistoryBatch batch) = Setup();
        // No adapter dropout here: the two engines draw different masks.
        LoraAdapters.Apply(model, new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0f, TargetModules = model.Config.LinearModuleNames }, seed: 2);
        foreach ((string name, ManagedTensor p) in model.named_parameters().Where(p => p.Name.Contains(".lora_B", StringComparison.Ordinal)))
        {
            // B starts at zero; give it values so that the adapters change the output.
            ManagedTensor.randn(new SeededRandom(3), 0.05f, p.shape.ToArray()).Data.CopyTo(p.Data);
        }

        TorchDecoderLM torchModel = TorchWeights.ToTorch(model);
        Assert.That(torchModel.named_parameters().Count(p => p.name.Contains(".lora_", StringComparison.Ordinal)), Is.EqualTo(model.named_parameters().Count(p => p.Name.Contains(".lora_", StringComparison.Ordinal))).And.GreaterThan(0));
        Assert.That(torchModel.parameters().Where(p => p.requires_grad).Select(p => p.shape.Length), Has.All.EqualTo(2), "only the adapters train");
        var weights = new LossWeights(1f, 1f, 1f);

        model.zero_grad();
        LossValues want;
        using (TensorScope.Begin())
        {
            CalRecObjective.Loss(model, batch, weights, Pooling.Mean, 0.1f, out want).backward();
        }

        TorchCalRecObjective.Loss(torchModel, batch, weights, Pooling.Mean, 0.1f, out LossValues got).backward();
        Assert.That(got.Total, Is.EqualTo(want.Total).Within(1e-4 * want.Total));
        var grads = torchModel.named_parameters().Where(p => p.parameter.requires_grad).ToDictionary(p => p.name, p => p.parameter.grad!.contiguous().data<float>().ToArray());
        foreach ((string name, ManagedTensor p) in model.named_parameters().Where(p => p.Name.Contains(".lora_", StringComparison.Ordinal)))
        {
            double scale = Math.Max(1e-6, p.grad!.ToArray().Max(Math.Abs));
            Assert.That(Fixtures.MaxAbsDiff(grads[name], p.grad!.ToArray()) / scale, Is.LessThanOrEqualTo(1e-4), name);
        }
    }

    [Test]
    public void CalRecFinetunesWithLoraOnTheTorchSharpEngineAndMergesTheAdapters()
    {
        InteractionDataset data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 5, UsersPerDomain = 30 }).ToDataset().ForDomain("beauty");
        var split = new LeaveOneOutSplit(data);
        var options = new CalRecTrainer.Options
        {
            // The engines draw their dropout masks from different generators.
            Dropout = 0f,
            Backbone = "tiny", VocabularySize = 400, PretrainSteps = 10, PretrainSequenceLength = 64, LoraRank = 4, LoraDropout = 0f,
            Stage1 = new CalRecStageOptions { Epochs = 0 }, Stage2 = new CalRecStageOptions { Epochs = 2, LearningRate = 5e-3f },
            BatchSize = 16, MaxHistory = 4, MaxItemTokens = 10, ValidationUsers = 0, Members = 1, Seed = 3,
        };
        CalRecTrainer trainer = new RecContext(seed: 1).Trainers.CalRec(options);
        trainer.Engine = TorchCalRecEngine.On(CPU);
        CalRecModel model = trainer.Fit(split, []);

        Assert.That(model.Backbone.named_parameters().Any(p => p.Name.Contains(".lora_", StringComparison.Ordinal)), Is.False, "the adapters are merged into the saved backbone");
        // Without adapter dropout (the engines draw different masks) both engines take the same steps up to rounding.
        CalRecModel managed = new RecContext(seed: 1).Trainers.CalRec(options).Fit(split, []);
        var evaluation = new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 };
        double ours = RecommendationEvaluator.Evaluate(managed, split.Test, evaluation)["ndcg@10"].Value;
        double theirs = RecommendationEvaluator.Evaluate(model, split.Test, evaluation)["ndcg@10"].Value;
        TestContext.Out.WriteLine($"LoRA test NDCG@10: ours {ours:F4}, TorchSharp engine {theirs:F4}");
        Assert.That(theirs, Is.EqualTo(ours).Within(0.02));
        Assert.That(Fixtures.MaxAbsDiff(model.Towers.ItemEmbeddings.ToArray(), managed.Towers.ItemEmbeddings.ToArray()), Is.LessThan(0.05).And.GreaterThan(0));
    }
}
