using System.Diagnostics;
using System.Text.Json.Nodes;
using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Data.Synthetic;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.MetaLearning;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.Persistence;
using CalRec.Tensors;
using CalRec.Tensors.Memory;

namespace CalRec.Recommenders.Tests;

[TestFixture]
public class CalRecTrainerTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "calrec-two-tower-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private static InteractionDataset Synthetic(int usersPerDomain) =>
        SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 5, UsersPerDomain = usersPerDomain }).ToDataset();

    /// <summary>Small but real: tiny backbone, short pretraining, one mixture epoch, two target epochs.</summary>
    private static CalRecTrainer.Options Fast(ulong seed = 3) => new()
    {
        Backbone = "tiny",
        VocabularySize = 600,
        PretrainSteps = 60,
        PretrainSequenceLength = 96,
        Stage1 = new CalRecStageOptions { Epochs = 1, LearningRate = 2e-3f },
        Stage2 = new CalRecStageOptions { Epochs = 2, LearningRate = 2e-3f },
        BatchSize = 16,
        MaxHistory = 6,
        MaxItemTokens = 16,
        ValidationUsers = 200,
        Members = 1,
        Seed = seed,
    };

    [TestCase(NegativeSampling.InBatch)]
    [TestCase(NegativeSampling.Catalogue)]
    [TestCase(NegativeSampling.InBatch, true)]
    [TestCase(NegativeSampling.InBatch, false, 0f)]
    public void TwoStageTrainingBeatsMostPopularOnTheSyntheticTargetDomain(NegativeSampling negatives, bool logQ = false, float textLm = 1f)
    {
        var ctx = new RecContext(seed: 1);
        InteractionDataset all = Synthetic(250);
        InteractionDataset target = all.ForDomain("beauty");
        IReadOnlyList<InteractionDataset> mixture = all.Domains.Select(all.ForDomain).ToList();
        var log = new List<string>();
        ctx.Log += (_, e) => log.Add(e.Message);
        CalRecTrainer.Options options = Fast();
        options.Negatives = negatives;
        options.NegativeRefreshSteps = 10;
        options.LogQCorrection = logQ;
        options.TextLmWeight = textLm; // 0: stage 1's batches of the other domains have no LM position at all
        CalRecModel model = ctx.Trainers.CalRec(options).Fit(target, mixture);

        var split = new LeaveOneOutSplit(target);
        double calrec = RecommendationEvaluator.Evaluate(model, split.Test, new RecommendationEvaluatorOptions { BootstrapSamples = 0 })["ndcg@10"].Value;
        double pop = RecommendationEvaluator.Evaluate(ctx.Trainers.MostPopular().Fit(split), split.Test, new RecommendationEvaluatorOptions { BootstrapSamples = 0 })["ndcg@10"].Value;
        TestContext.Out.WriteLine($"CALRec NDCG@10 {calrec:F4}, MostPopular {pop:F4}");
        TestContext.Out.WriteLine(string.Join("\n", log));
        Assert.That(log, Has.Some.Contains("stage1:").And.Some.Contains("stage2:"));
        Assert.That(calrec, Is.GreaterThan(pop * 1.5).And.GreaterThan(pop + 0.05), "CALRec should clearly beat popularity on learnable routines");
        Assert.That(model.Training.ValidationNdcg10, Is.Not.Null);
    }

    private static (DecoderLM Model, HistoryBatch Batch) WiringSetup()
    {
        (DecoderLM model, List<HistoryExample> examples) = WiringExamples();
        return (model, HistoryBatch.Build(examples));
    }

    private static (DecoderLM Model, List<HistoryExample> Examples) WiringExamples()
    {
        InteractionDataset data = Synthetic(20).ForDomain("office");
        var ctx = new RecContext(seed: 1);
        var tok = ctx.Text.TrainTokenizer(data.Items, 400);
        var model = new DecoderLM(DecoderPresets.Find("tiny")! with { VocabSize = tok.VocabularySize }, seed: 9);
        var table = new ItemTextTable(data.Items, tok, null, 12);
        return (model, data.Sequences.Take(4).Select((s, u) => new HistoryExample(table, 0, u, s.Take(5).ToArray())).ToList());
    }

    [Test]
    public void CatalogueNegativesAddEveryOtherItemOfTheStagesCataloguesToTheContrastiveTerms()
    {
        InteractionDataset all = Synthetic(20);
        InteractionDataset office = all.ForDomain("office"), kitchen = all.ForDomain("kitchen");
        var tok = new RecContext(seed: 1).Text.TrainTokenizer([.. office.Items, .. kitchen.Items], 400);
        var model = new DecoderLM(DecoderPresets.Find("tiny")! with { VocabSize = tok.VocabularySize }, seed: 9);
        var officeTable = new ItemTextTable(office.Items, tok, null, 12);
        var kitchenTable = new ItemTextTable(kitchen.Items, tok, null, 12);
        var examples = office.Sequences.Take(3).Select((s, u) => new HistoryExample(officeTable, 0, u, s.Take(4).ToArray()))
            .Concat(kitchen.Sequences.Take(2).Select((s, u) => new HistoryExample(kitchenTable, 1, u, s.Take(4).ToArray()))).ToList();
        var bank = new ItemNegativeBank([officeTable, kitchenTable, officeTable], model.Config.HiddenSize, Pooling.LastToken);
        bank.Refresh(model, CancellationToken.None);
        HistoryBatch plain = HistoryBatch.Build(examples), wide = HistoryBatch.Build(examples, bank);

        // Both catalogues once, office first; each batch item's own row is left out of the bank's logits.
        Assert.That(bank.Count, Is.EqualTo(office.ItemCount + kitchen.ItemCount));
        Assert.That(bank.Version, Is.EqualTo(1));
        Assert.That(wide.ExcludedNegatives, Is.EqualTo(wide.UniqueItems.Select(u => (u.Table == officeTable ? 0 : office.ItemCount) + u.Item)));
        float[] row = CalRecScorer.EncodeCatalogue(model, kitchenTable, Pooling.LastToken);
        Assert.That(bank.Vectors.AsSpan(office.ItemCount * bank.Dimension, row.Length).ToArray(), Is.EqualTo(row), "the bank holds the item tower's vectors");

        LossValues a, b;
        using (TensorScope.Begin())
        {
            CalRecObjective.Loss(model, plain, new LossWeights(1f, 1f, 1f), Pooling.LastToken, 0.1f, out a);
            CalRecObjective.Loss(model, wide, new LossWeights(1f, 1f, 1f), Pooling.LastToken, 0.1f, out b);
        }

        Assert.That(b.Lm, Is.EqualTo(a.Lm), "the LM term does not use negatives");
        Assert.That(b.UserItem, Is.GreaterThan(a.UserItem), "more negatives, a harder ranking");
        Assert.That(b.ItemItem, Is.GreaterThan(a.ItemItem));
    }

    [Test]
    public void LogQCorrectionShiftsEachKeyByMinusTheLogOfItsProbabilityUnderTheStagesSampler()
    {
        InteractionDataset all = Synthetic(10);
        InteractionDataset office = all.ForDomain("office"), kitchen = all.ForDomain("kitchen");
        var tok = new RecContext(seed: 1).Text.TrainTokenizer([.. office.Items, .. kitchen.Items], 400);
        var officeTable = new ItemTextTable(office.Items, tok, null, 8);
        var kitchenTable = new ItemTextTable(kitchen.Items, tok, null, 8);
        // Office targets: 5, 7, 7, 9 (7 twice as often); kitchen targets: 5, 6. The same index in two domains is two items.
        List<HistoryExample> officeWindows = [new(officeTable, 0, 0, [3, 5, 7]), new(officeTable, 0, 1, [2, 7, 9])];
        List<HistoryExample> kitchenWindows = [new(kitchenTable, 1, 0, [1, 5, 6])];
        var correction = new SamplingCorrection([officeWindows, kitchenWindows], [0.75, 0.25]);

        Assert.That(correction.Offset(officeTable, 7), Is.EqualTo(-Math.Log(0.75 * 2 / 4)).Within(1e-6));
        Assert.That(correction.Offset(officeTable, 5), Is.EqualTo(-Math.Log(0.75 * 1 / 4)).Within(1e-6));
        Assert.That(correction.Offset(kitchenTable, 5), Is.EqualTo(-Math.Log(0.25 * 1 / 2)).Within(1e-6));
        Assert.Throws<ArgumentException>(() => correction.Offset(officeTable, 3), "item 3 is never a target");

        HistoryBatch batch = HistoryBatch.Build([.. officeWindows, .. kitchenWindows], correction: correction);
        Assert.That(batch.KeyLogitOffsets, Has.Length.EqualTo(batch.TargetKeys.Length));
        for (int j = 0; j < batch.TargetKeys.Length; j++)
        {
            (ItemTextTable table, int item) = batch.UniqueItems[batch.TargetKeys[j]];
            Assert.That(batch.KeyLogitOffsets[j], Is.EqualTo(correction.Offset(table, item)));
        }

        Assert.That(HistoryBatch.Build(officeWindows).KeyLogitOffsets, Is.Empty, "no correction, no offsets");
        Assert.That(Assert.Throws<ArgumentException>(() => new CalRecTrainer.Options { LogQCorrection = true, Negatives = NegativeSampling.Catalogue }.Validate())!.Message,
            Does.Contain("LogQCorrection"));

        // In the loss: the LM term is untouched, the contrastive terms move; offsets equal for every key change nothing.
        var model = new DecoderLM(DecoderPresets.Find("tiny")! with { VocabSize = tok.VocabularySize }, seed: 9);
        List<HistoryExample> uniform = [new(officeTable, 0, 0, [3, 5, 7]), new(officeTable, 0, 1, [2, 9, 4])];
        LossValues plain, corrected, flat, flatCorrected;
        using (TensorScope.Begin())
        {
            var weights = new LossWeights(1f, 1f, 1f);
            CalRecObjective.Loss(model, HistoryBatch.Build(officeWindows), weights, Pooling.LastToken, 0.1f, out plain);
            CalRecObjective.Loss(model, HistoryBatch.Build(officeWindows, correction: new SamplingCorrection([officeWindows], [1.0])), weights, Pooling.LastToken, 0.1f, out corrected);
            CalRecObjective.Loss(model, HistoryBatch.Build(uniform), weights, Pooling.LastToken, 0.1f, out flat);
            CalRecObjective.Loss(model, HistoryBatch.Build(uniform, correction: new SamplingCorrection([uniform], [1.0])), weights, Pooling.LastToken, 0.1f, out flatCorrected);
        }

        Assert.That(corrected.Lm, Is.EqualTo(plain.Lm));
        Assert.That(corrected.UserItem, Is.Not.EqualTo(plain.UserItem).Within(1e-4));
        Assert.That(flatCorrected.UserItem, Is.EqualTo(flat.UserItem).Within(1e-5));
        Assert.That(flatCorrected.ItemItem, Is.EqualTo(flat.ItemItem).Within(1e-5));
    }

    [Test]
    public void MicroBatchGradientsWeightedByTheirShareAddUpToTheWholeBatchsLmGradient()
    {
        (DecoderLM model, List<HistoryExample> examples) = WiringExamples();
        List<HistoryBatch> micro = CalRecTrainer.MicroBatches(examples, 3, null);
        Assert.That(micro.Select(b => b.Rows), Is.EqualTo(new[] { 1, 1, 2 }));
        var w = new LossWeights(1f, 0f, 0f);

        float[] expected = Gradient(model, HistoryBatch.Build(examples), w, Pooling.LastToken);
        model.zero_grad();
        var parts = new List<LossValues>();
        foreach (HistoryBatch b in micro)
        {
            using (TensorScope.Begin())
            {
                CalRecObjective.Loss(model, b, w.ShareOf(b, micro), Pooling.LastToken, 0.1f, out LossValues part).backward();
                parts.Add(part);
            }
        }

        float[] accumulated = model.parameters().SelectMany(p => p.grad!.Data.ToArray()).ToArray();
        double scale = expected.Max(Math.Abs);
        Assert.That(accumulated.Zip(expected, (x, y) => Math.Abs(x - y)).Max() / scale, Is.LessThanOrEqualTo(1e-5));

        LossValues full;
        using (TensorScope.Begin())
        {
            CalRecObjective.Loss(model, HistoryBatch.Build(examples), new LossWeights(1f, 0f, 0f), Pooling.LastToken, 0.1f, out full);
        }

        LossValues combined = LossValues.Combine(parts, micro, w);
        Assert.That(combined.Lm, Is.EqualTo(full.Lm).Within(1e-5 * full.Lm));
        Assert.That(combined.Total, Is.EqualTo(full.Total).Within(1e-5 * full.Total));
        Assert.That(float.IsNaN(combined.UserItem), "a term that was not computed stays NaN");
        Assert.That(Assert.Throws<ArgumentException>(() => new CalRecTrainer.Options { BatchSize = 4, AccumulationSteps = 3 }.Validate())!.Message, Does.Contain("AccumulationSteps"));
    }

    private static float[] Gradient(DecoderLM model, HistoryBatch batch, LossWeights w, Pooling pooling)
    {
        model.zero_grad();
        using (TensorScope.Begin())
        {
            CalRecObjective.Loss(model, batch, w, pooling, 0.1f, out _).backward();
        }

        return model.parameters().SelectMany(p => p.grad!.Data.ToArray()).ToArray();
    }

    [TestCase(Pooling.LastToken)]
    [TestCase(Pooling.Mean)]
    public void EachLossWeightControlsExactlyItsOwnGradientContribution(Pooling pooling)
    {
        (DecoderLM model, HistoryBatch batch) = WiringSetup();
        float[] all = Gradient(model, batch, new LossWeights(1f, 1f, 1f), pooling);
        var terms = new[] { new LossWeights(1f, 0f, 0f), new LossWeights(0f, 1f, 0f), new LossWeights(0f, 0f, 1f) };
        var without = new[] { new LossWeights(0f, 1f, 1f), new LossWeights(1f, 0f, 1f), new LossWeights(1f, 1f, 0f) };
        float scale = all.Max(MathF.Abs);
        for (int t = 0; t < 3; t++)
        {
            float[] only = Gradient(model, batch, terms[t], pooling);
            float[] rest = Gradient(model, batch, without[t], pooling);
            Assert.That(only.Max(MathF.Abs), Is.GreaterThan(scale * 1e-3f), $"term {t} contributes no gradient");
            double err = 0;
            for (int i = 0; i < all.Length; i++)
            {
                err = Math.Max(err, Math.Abs(all[i] - rest[i] - only[i]));
            }

            Assert.That(err, Is.LessThan(scale * 1e-4), $"term {t}: full gradient minus the others' is not that term's gradient");
        }

        // A weight scales its term: w_ut = 2 doubles the user-item contribution.
        float[] doubled = Gradient(model, batch, new LossWeights(0f, 0f, 2f), pooling);
        float[] single = Gradient(model, batch, new LossWeights(0f, 0f, 1f), pooling);
        Assert.That(doubled.Zip(single, (a, b) => Math.Abs(a - (2 * b))).Max(), Is.LessThan(scale * 1e-4));
    }

    [Test]
    public void BatchLayoutTrainsEveryTargetOnceAndDeduplicatesRepeatedItems()
    {
        InteractionDataset data = Synthetic(10).ForDomain("beauty");
        var tok = new RecContext().Text.TrainTokenizer(data.Items, 400);
        var table = new ItemTextTable(data.Items, tok, null, 8);
        HistoryBatch b = HistoryBatch.Build([new(table, 0, 0, [3, 5, 7]), new(table, 0, 1, [5, 7])]);
        Assert.That(b.TargetKeys, Has.Length.EqualTo(3), "targets: 5 and 7 of row 0, 7 of row 1");
        Assert.That(b.UniqueItems.Select(u => u.Item), Is.EqualTo(new[] { 5, 7 }));
        Assert.That(b.TargetKeys, Is.EqualTo(new[] { 0, 1, 1 }));
        int l3 = table.Tokens(3).Length, l5 = table.Tokens(5).Length;
        Assert.That(b.UserLengths[0], Is.EqualTo(l3 + 1), "the first user prefix ends at the separator after item 3");
        Assert.That(b.Ids[b.UserStarts[0] + b.UserLengths[0] - 1], Is.EqualTo(table.Separator));
        Assert.That(b.TargetStarts[0], Is.EqualTo(l3 + 1));
        Assert.That(b.TargetLengths[0], Is.EqualTo(l5 + 1));
        // LM targets: the tokens of every target item and its separator, each predicted from the position before.
        int expected = (table.Tokens(5).Length + 1) + (table.Tokens(7).Length + 1) + (table.Tokens(7).Length + 1);
        Assert.That(b.LmTargets, Has.Length.EqualTo(expected));
        for (int i = 0; i < b.LmPositions.Length; i++)
        {
            Assert.That(b.Ids[b.LmPositions[i] + 1], Is.EqualTo(b.LmTargets[i]));
        }
    }

    /// <summary>Smaller still, for tests about plumbing rather than quality.</summary>
    private static CalRecTrainer.Options Tiny(ulong seed = 3)
    {
        CalRecTrainer.Options o = Fast(seed);
        o.VocabularySize = 400;
        o.PretrainSteps = 8;
        o.PretrainSequenceLength = 64;
        o.BatchSize = 8;
        o.MaxHistory = 4;
        o.MaxItemTokens = 10;
        o.ValidationUsers = 20;
        return o;
    }

    [Test]
    public void ModelSelectionValidatesOnEveryValidationUserByDefault()
    {
        Assert.That(new CalRecTrainer.Options().ValidationUsers, Is.Zero, "all validation users, as SASRec validates");
        Assert.That(Assert.Throws<ArgumentException>(() => new CalRecTrainer.Options { ValidationUsers = -1 }.Validate())!.Message, Does.Contain("ValidationUsers"));
        var split = new LeaveOneOutSplit(Synthetic(30).ForDomain("kitchen"));
        double Recorded(int users)
        {
            CalRecTrainer.Options o = Tiny();
            o.ItemIdentityTokens = false;
            o.ValidationUsers = users;
            CalRecModel m = new RecContext(seed: 2).Trainers.CalRec(o).Fit(split);
            double all = RecommendationEvaluator.Evaluate(m, split.Validation, new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 })["ndcg@10"].Value;
            return m.Training.ValidationNdcg10!.Value - all;
        }

        // The selected weights' recorded validation NDCG@10 is the figure on all validation users, not on a sample of them.
        Assert.That(split.Validation, Has.Count.GreaterThan(20));
        Assert.That(Recorded(0), Is.EqualTo(0).Within(1e-6));
        Assert.That(Math.Abs(Recorded(8)), Is.GreaterThan(1e-4), "a sample of 8 users measures something else");
    }

    [Test]
    public void WeightAveragingSelectsAndShipsTheAverageItValidated()
    {
        var split = new LeaveOneOutSplit(Synthetic(30).ForDomain("kitchen"));
        CalRecModel Fit(float decay)
        {
            CalRecTrainer.Options o = Tiny();
            o.ItemIdentityTokens = false;
            o.ValidationUsers = 0;
            o.WeightAverage = decay;
            return new RecContext(seed: 2).Trainers.CalRec(o).Fit(split);
        }

        CalRecModel raw = Fit(0f), averaged = Fit(0.9f), negligible = Fit(1e-6f);
        // The fitted model is the average that model selection validated, not the raw weights of that step.
        double all = RecommendationEvaluator.Evaluate(averaged, split.Validation, new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 })["ndcg@10"].Value;
        Assert.That(averaged.Training.ValidationNdcg10!.Value, Is.EqualTo(all).Within(1e-6));
        float[] rawItems = raw.Towers.ItemEmbeddings.ToArray();
        Assert.That(averaged.Towers.ItemEmbeddings.ToArray().Zip(rawItems, (a, b) => Math.Abs(a - b)).Max(), Is.GreaterThan(1e-3f));
        // An average that forgets at once is the raw weights: the swaps and captures lose nothing.
        Assert.That(negligible.Towers.ItemEmbeddings.ToArray().Zip(rawItems, (a, b) => Math.Abs(a - b)).Max(), Is.LessThan(1e-4f));
        Assert.That(Assert.Throws<ArgumentException>(() => new CalRecTrainer.Options { WeightAverage = 1f }.Validate())!.Message, Does.Contain("WeightAverage"));
    }

    [Test]
    public void SavedAndReloadedModelGivesIdenticalRecommendations()
    {
        var ctx = new RecContext(seed: 2);
        InteractionDataset data = Synthetic(30).ForDomain("kitchen");
        CalRecModel model = ctx.Trainers.CalRec(Tiny()).Fit(data);
        string path = Path.Combine(_dir, "calrec.zip");
        ctx.Model.Save(model, path);
        var loaded = (CalRecModel)ctx.Model.Load(path);
        Assert.That(loaded.Settings, Is.EqualTo(model.Settings with { Template = loaded.Settings.Template }));
        Assert.That(loaded.Towers.ItemEmbeddings.ToArray(), Is.EqualTo(model.Towers.ItemEmbeddings.ToArray()));
        var users = data.Sequences.Take(20).Select((s, u) => new UserHistory($"u{u}", s.Select(i => data.Items[i].Id).ToList())).ToList();
        var before = model.Transform(users, k: 10).ToList();
        var after = loaded.Transform(users, k: 10).ToList();
        for (int u = 0; u < users.Count; u++)
        {
            Assert.That(after[u].Items.Select(i => i.ItemId), Is.EqualTo(before[u].Items.Select(i => i.ItemId)));
            Assert.That(after[u].Items.Select(i => i.Score), Is.EqualTo(before[u].Items.Select(i => i.Score)));
        }

        // The item index matches a fresh item-tower pass of the reloaded backbone.
        float[] fresh = CalRecScorer.EncodeCatalogue(loaded.Backbone, new ItemTextTable(data.Items, loaded.Tokenizer, null, loaded.Settings.MaxItemTokens, loaded.Settings.IdentityTokenBase), loaded.Settings.Pooling);
        Assert.That(fresh.Zip(loaded.Towers.ItemEmbeddings.ToArray(), (a, b) => Math.Abs(a - b)).Max(), Is.LessThan(1e-5f));

        // The popularity prior adds w·ln(1 + training count) to every score, is saved with the model, and is tuned on
        // validation cases from the grid given.
        Assert.That(model.Towers.PopularityPrior, Is.Zero);
        CalRecModel prior = model.WithPopularityPrior(0.05f);
        int[][] histories = data.Sequences.Take(3).Select(h => h[..^1]).ToArray();
        float[] plain = new float[3 * model.ItemCount], boosted = new float[3 * model.ItemCount];
        model.Score(histories, plain);
        prior.Score(histories, boosted);
        float[] counts = model.Towers.Popularity!;
        for (int i = 0; i < boosted.Length; i++)
        {
            Assert.That(boosted[i], Is.EqualTo(plain[i] + (0.05f * MathF.Log(1f + counts[i % model.ItemCount]))).Within(1e-5f));
        }

        string withPrior = Path.Combine(_dir, "prior.zip");
        ctx.Model.Save(prior, withPrior);
        Assert.That(((CalRecModel)ctx.Model.Load(withPrior)).Towers.PopularityPrior, Is.EqualTo(0.05f));
        var validation = new Data.Splits.LeaveOneOutSplit(data).Validation;
        (CalRecModel tuned, IReadOnlyList<(float Weight, double Ndcg10)> candidates) = model.TunePopularityPrior(validation, [0f, 0.01f, 1f]);
        Assert.That(candidates.Select(c => c.Weight), Is.EqualTo(new[] { 0f, 0.01f, 1f }));
        Assert.That(candidates.Single(c => c.Weight == tuned.Towers.PopularityPrior).Ndcg10, Is.EqualTo(candidates.Max(c => c.Ndcg10)));
        var withoutPopularity = new CalRecModel(new CalRecScorer(model.Backbone, model.Tokenizer, model.Towers.Table, model.Settings, model.Towers.ItemEmbeddings.ToArray()), model.Catalog, model.Training);
        Assert.That(() => withoutPopularity.TunePopularityPrior(validation), Throws.TypeOf<InvalidDataException>().With.Message.Contains("no training popularity"));
        float[] dominated = new float[model.ItemCount];
        model.WithPopularityPrior(1000f).Score([histories[0]], dominated);
        Assert.That(counts[Array.IndexOf(dominated, dominated.Max())], Is.EqualTo(counts.Max()), "a large prior ranks by popularity");

        // A truncated zip and one from a newer format fail with the path.
        string truncated = Path.Combine(_dir, "truncated.zip");
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        Assert.That(() => ctx.Model.Load(truncated), Throws.TypeOf<ModelFormatException>().With.Message.Contains("truncated.zip"));

        string newer = Path.Combine(_dir, "newer.zip");
        File.Copy(path, newer);
        using (var zip = System.IO.Compression.ZipFile.Open(newer, System.IO.Compression.ZipArchiveMode.Update))
        {
            System.IO.Compression.ZipArchiveEntry entry = zip.GetEntry("calrec-model.json")!;
            System.Text.Json.Nodes.JsonObject manifest;
            using (Stream s = entry.Open())
            {
                manifest = System.Text.Json.Nodes.JsonNode.Parse(s)!.AsObject();
            }

            entry.Delete();
            manifest["components"]!["calrec"] = 2;
            using var w = new StreamWriter(zip.CreateEntry("calrec-model.json").Open());
            w.Write(manifest.ToJsonString());
        }

        Assert.That(() => ctx.Model.Load(newer), Throws.TypeOf<ModelFormatException>().With.Message.Contains("newer.zip").And.Message.Contains("calrec"));
    }

    [Test]
    public void MembersAreTheRunsOfConsecutiveSeedsAndTheModelScoresWithTheirMean()
    {
        var ctx = new RecContext(seed: 2);
        InteractionDataset data = Synthetic(30).ForDomain("kitchen");
        var split = new LeaveOneOutSplit(data);
        IReadOnlyList<InteractionDataset> mixture = [Synthetic(30).ForDomain("beauty"), data];
        CalRecTrainer.Options Settings(ulong seed, int members)
        {
            CalRecTrainer.Options o = Tiny(seed);
            o.Members = members;
            o.ValidationUsers = 0;
            return o;
        }

        Assert.That(Assert.Throws<ArgumentException>(() => Settings(3, 0).Validate())!.Message, Does.Contain("Members"));
        var reports = new List<CalRecProgress>();
        CalRecTrainer trainer = ctx.Trainers.CalRec(Settings(3, 2));
        trainer.Progress += (_, e) => reports.Add(e);
        CalRecModel ensemble = trainer.Fit(split, mixture);
        CalRecModel first = ctx.Trainers.CalRec(Settings(3, 1)).Fit(split, mixture);
        CalRecModel second = ctx.Trainers.CalRec(Settings(4, 1)).Fit(split, mixture);

        // Member k is the single run of seed Seed + k, every stage included, with its own stage-0 LM.
        Assert.That(ensemble.Members, Has.Count.EqualTo(2));
        Assert.That(reports.Select(r => (r.Member, r.Phase)).Distinct(), Is.EqualTo(new[]
        {
            (0, "pretrain"), (0, "stage1"), (0, "stage2"), (1, "pretrain"), (1, "stage1"), (1, "stage2"),
        }));
        Assert.That(reports.Where(r => r.Member == 1).Select(r => r.Label).Distinct(), Is.EqualTo(new[] { "pretrain (member 2)", "stage1 (member 2)", "stage2 (member 2)" }));
        Assert.That(ensemble.Members[0].ItemEmbeddings.ToArray(), Is.EqualTo(first.Towers.ItemEmbeddings.ToArray()));
        Assert.That(ensemble.Members[1].ItemEmbeddings.ToArray(), Is.EqualTo(second.Towers.ItemEmbeddings.ToArray()));
        Assert.That(ensemble.Members[1].ItemEmbeddings.ToArray(), Is.Not.EqualTo(first.Towers.ItemEmbeddings.ToArray()), "the members differ");
        Assert.That(ensemble.Training.Epochs, Is.EqualTo(first.Training.Epochs + second.Training.Epochs));

        // Its scores are the mean of the two runs' scores (the identity weight chosen once, on the members' mean).
        float lambda = ensemble.Towers.IdentityWeight;
        int[][] histories = split.Validation.Take(12).Select(c => c.History.ToArray()).ToArray();
        int n = ensemble.ItemCount;
        float[] mean = new float[histories.Length * n], a = new float[mean.Length], b = new float[mean.Length];
        ensemble.Score(histories, mean);
        first.WithIdentityWeight(lambda).Score(histories, a);
        second.WithIdentityWeight(lambda).Score(histories, b);
        for (int i = 0; i < mean.Length; i++)
        {
            Assert.That(mean[i], Is.EqualTo((a[i] + b[i]) / 2f).Within(1e-5f));
        }

        // Its recorded validation is the mean's, on every validation user (the members' own bests are in the log).
        double validation = RecommendationEvaluator.Evaluate(ensemble, split.Validation.ToList(), new RecommendationEvaluatorOptions { Ks = [10], BootstrapSamples = 0 })["ndcg@10"].Value;
        Assert.That(ensemble.Training.ValidationNdcg10, Is.EqualTo(validation).Within(1e-12));

        // Saved and loaded, every member comes back; a zip missing one names it.
        string path = Path.Combine(_dir, "members.zip");
        ctx.Model.Save(ensemble, path);
        var loaded = (CalRecModel)ctx.Model.Load(path);
        Assert.That(loaded.Members, Has.Count.EqualTo(2));
        float[] reloaded = new float[mean.Length];
        loaded.Score(histories, reloaded);
        Assert.That(reloaded, Is.EqualTo(mean));
        string broken = Path.Combine(_dir, "broken.zip");
        File.Copy(path, broken);
        using (var zip = System.IO.Compression.ZipFile.Open(broken, System.IO.Compression.ZipArchiveMode.Update))
        {
            foreach (System.IO.Compression.ZipArchiveEntry entry in zip.Entries.Where(e => e.FullName.Contains("members/1/backbone/model.safetensors", StringComparison.Ordinal)).ToList())
            {
                entry.Delete();
            }
        }

        Assert.That(() => ctx.Model.Load(broken), Throws.TypeOf<ModelFormatException>().With.Message.Contains("broken.zip").And.Message.Contains("members/1/backbone"));
    }

    [TestCase("pretrain", 5)]
    [TestCase("stage2", 3)]
    public void ARunOfTwoMembersKilledInTheSecondResumesToTheSameModel(string phase, int step)
    {
        InteractionDataset data = Synthetic(30).ForDomain("beauty");
        var split = new LeaveOneOutSplit(data);
        IReadOnlyList<InteractionDataset> mixture = [data];
        CalRecTrainer.Options Settings(string? dir)
        {
            CalRecTrainer.Options o = Tiny();
            o.Members = 2;
            o.CheckpointDirectory = dir;
            o.CheckpointMinutes = 1e-9;
            return o;
        }

        CalRecModel straight = new RecContext(seed: 1).Trainers.CalRec(Settings(null)).Fit(split, mixture);
        string dir = Path.Combine(_dir, "killed");
        CalRecTrainer first = new RecContext(seed: 1).Trainers.CalRec(Settings(dir));
        first.Progress += (_, e) =>
        {
            if (e.Member == 1 && e.Phase == phase && e.Step == step)
            {
                throw new InvalidOperationException("killed");
            }
        };
        var firstClock = Stopwatch.StartNew();
        Assert.That(() => first.Fit(split, mixture), Throws.InvalidOperationException.With.Message.EqualTo("killed"));
        double firstSeconds = firstClock.Elapsed.TotalSeconds;
        Assert.That(Directory.Exists(Path.Combine(dir, "members", "0")), "the finished member is in the checkpoint");
        Assert.That(Directory.Exists(Path.Combine(dir, "members", "1")), Is.False);

        // The model records the whole run's training time, the killed session's included: the checkpoint carries it.
        // (stage 0's checkpoint is the LM trainer's, with the run's record in its extra object)
        string stateFile = Path.Combine(dir, phase == "pretrain" ? "trainer_state.json" : "state.json");
        JsonObject file = JsonNode.Parse(File.ReadAllText(stateFile))!.AsObject();
        JsonObject state = phase == "pretrain" ? file["extra"]!.AsObject() : file;
        Assert.That(state["run_seconds"]!.GetValue<double>(), Is.GreaterThan(0).And.LessThanOrEqualTo(firstSeconds));
        const double Before = 1000;
        state["run_seconds"] = Before;
        File.WriteAllText(stateFile, file.ToJsonString());

        var resumeClock = Stopwatch.StartNew();
        CalRecModel resumed = new RecContext(seed: 1).Trainers.CalRec(CalRecTrainer.Options.FromCheckpoint(dir)).Fit(split, mixture);
        Assert.That(resumed.Training.Seconds, Is.GreaterThan(Before).And.LessThanOrEqualTo(Before + resumeClock.Elapsed.TotalSeconds));
        Assert.That(resumed.Training.ValidationNdcg10, Is.EqualTo(straight.Training.ValidationNdcg10));
        for (int k = 0; k < 2; k++)
        {
            Assert.That(resumed.Members[k].ItemEmbeddings.ToArray(), Is.EqualTo(straight.Members[k].ItemEmbeddings.ToArray()), $"member {k + 1}");
        }
    }

    [Test]
    public void BadHistoriesGiveClearErrorsAndLongHistoriesUseTheMostRecentItems()
    {
        var ctx = new RecContext(seed: 2);
        InteractionDataset data = Synthetic(30).ForDomain("office");
        var o = Tiny();
        o.Stage2.Epochs = 1;
        CalRecModel model = ctx.Trainers.CalRec(o).Fit(data);
        Assert.That(() => model.Transform([new UserHistory("u", ["nope"])]).ToList(),
            Throws.ArgumentException.With.Message.Contains("'nope'").And.Message.Contains("not in the model's catalogue"));
        Assert.That(() => model.Transform([new UserHistory("u", [])]).ToList(), Throws.ArgumentException.With.Message.Contains("empty"));

        string[] longHistory = data.Items.Take(12).Select(i => i.Id).ToArray();
        var full = model.Transform([new UserHistory("u", longHistory)], k: 5, excludeSeen: false).Single();
        var recent = model.Transform([new UserHistory("u", longHistory[^model.Settings.MaxHistory..])], k: 5, excludeSeen: false).Single();
        Assert.That(full.Items.Select(i => i.Score), Is.EqualTo(recent.Items.Select(i => i.Score)), $"only the last {model.Settings.MaxHistory} items are read");
    }

    [TestCase(1)]
    [TestCase(2)]
    public void NoStageSeesAnyUsersValidationOrTestItems(int pretrainTargetWeight)
    {
        // Users shop in two domains, interleaved; the target is one domain, the mixture is the whole dataset, so a naive
        // mixture split (all but the user's last two interactions overall) would contain target validation and test items.
        InteractionDataset all = Synthetic(40);
        var g = new SeededRandom(17);
        var beautyUsers = all.Users.Select((u, i) => (u, i)).Where(x => all.DomainOf(all.Sequences[x.i][0]) == "beauty").ToList();
        var officeUsers = all.Users.Select((u, i) => (u, i)).Where(x => all.DomainOf(all.Sequences[x.i][0]) == "office").ToList();
        var users = new List<UserSequence>();
        for (int k = 0; k < beautyUsers.Count; k++)
        {
            int[] a = all.Sequences[beautyUsers[k].i], b = all.Sequences[officeUsers[k].i];
            var merged = new List<string>();
            int ia = 0, ib = 0;
            while (ia < a.Length || ib < b.Length)
            {
                bool takeA = ib >= b.Length || (ia < a.Length && g.NextInt(2) == 0);
                merged.Add(all.Items[takeA ? a[ia++] : b[ib++]].Id);
            }

            users.Add(new UserSequence($"shopper{k}", merged, null));
        }

        InteractionDataset mixed = InteractionDataset.Create("mixed", all.Items, users);
        InteractionDataset target = mixed.ForDomain("beauty");
        var split = new LeaveOneOutSplit(target);
        var heldOut = split.Validation.Concat(split.Test).GroupBy(c => target.Users[c.User])
            .ToDictionary(x => x.Key, x => x.Select(c => target.Items[c.Target].Id).ToHashSet());
        int naiveLeaks = new LeaveOneOutSplit(mixed).Train.Select((s, u) => s.Count(i => heldOut.TryGetValue(mixed.Users[u], out var h) && h.Contains(mixed.Items[i].Id))).Sum();
        Assert.That(naiveLeaks, Is.GreaterThan(0), "the setup must be able to leak");

        var seen = new List<(string Phase, string User, string[] Items)>();
        CalRecTrainer.Options options = Tiny();
        options.PretrainTargetWeight = pretrainTargetWeight;
        CalRecTrainer trainer = new RecContext(seed: 1).Trainers.CalRec(options);
        trainer.TrainingDataObserver = (phase, _, user, items) => seen.Add((phase, user, items));
        trainer.Fit(split, [mixed, mixed.ForDomain("office")]);
        Assert.That(seen.Select(x => x.Phase).Distinct(), Is.EquivalentTo(new[] { "pretrain", "stage1", "stage2" }));
        var leaks = seen.Where(x => heldOut.TryGetValue(x.User, out var h) && x.Items.Any(h.Contains)).ToList();
        Assert.That(leaks, Is.Empty, leaks.Count > 0 ? $"{leaks[0].Phase}: {leaks[0].User} saw {string.Join(",", leaks[0].Items)}" : string.Empty);
        Assert.That(seen.Count(x => x.Phase == "stage1"), Is.GreaterThan(seen.Count(x => x.Phase == "stage2")));
    }

    [TestCase(1, true)]
    [TestCase(2, true)]
    [TestCase(2, false)]
    public void StageZeroAndTheTokenizerReadTheTargetAsOftenAsItsWeightSays(int weight, bool targetInMixture)
    {
        InteractionDataset all = Synthetic(30);
        InteractionDataset target = all.ForDomain("beauty"), office = all.ForDomain("office");
        var ctx = new RecContext(seed: 1);
        var log = new List<string>();
        ctx.Log += (_, e) => log.Add(e.Message);
        var seen = new List<(string Phase, string Dataset)>();
        CalRecTrainer.Options o = Tiny();
        o.Stage1 = new CalRecStageOptions { Epochs = 1, MaxSteps = 1 };
        o.Stage2 = new CalRecStageOptions { Epochs = 1, MaxSteps = 1 };
        o.PretrainTargetWeight = weight;
        CalRecTrainer trainer = ctx.Trainers.CalRec(o);
        trainer.TrainingDataObserver = (phase, dataset, _, _) => seen.Add((phase, dataset));
        trainer.Fit(target, targetInMixture ? [target, office] : [office]);

        int targetWindows = seen.Count(x => x.Phase == "stage2");
        Assert.That(targetWindows, Is.GreaterThan(0));
        Assert.That(seen.Count(x => x.Phase == "pretrain" && x.Dataset == target.Name), Is.EqualTo(weight * targetWindows), "the target's windows, weight times");
        Assert.That(seen.Count(x => x.Phase == "pretrain" && x.Dataset == office.Name), Is.EqualTo(seen.Count(x => x.Phase == "stage1" && x.Dataset == office.Name)), "the others once");
        int Texts(InteractionDataset d) => d.Items.Count(i => ItemTextTable.Render(i, null).Length > 0);
        Assert.That(log, Has.Some.Contains($"tokenizer on {(weight * Texts(target)) + Texts(office):N0} item texts"));
    }

    [Test]
    public void ACancelledRunResumesFromItsCheckpointToTheSameModel()
    {
        InteractionDataset data = Synthetic(30).ForDomain("beauty");
        var split = new LeaveOneOutSplit(data);
        IReadOnlyList<InteractionDataset> mixture = [data];
        CalRecTrainer.Options Settings(string? dir, bool resume)
        {
            var o = Tiny();
            o.EvaluationsPerEpoch = 2;
            o.CheckpointDirectory = dir;
            o.Resume = resume;
            return o;
        }

        CalRecModel straight = new RecContext(seed: 1).Trainers.CalRec(Settings(null, false)).Fit(split, mixture);

        string dir = Path.Combine(_dir, "checkpoint");
        using var cts = new CancellationTokenSource();
        CalRecTrainer first = new RecContext(seed: 1).Trainers.CalRec(Settings(dir, false));
        first.Progress += (_, e) =>
        {
            if (e.Phase == "stage2" && e.Step == 3)
            {
                cts.Cancel();
            }
        };
        Assert.That(() => first.Fit(split, mixture, cts.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(File.Exists(Path.Combine(dir, "state.json")), "cancellation writes a checkpoint");

        // The checkpoint carries the run's settings: a library user resumes with nothing but the folder (and the data).
        CalRecTrainer.Options saved = CalRecTrainer.Options.FromCheckpoint(dir);
        Assert.That(saved.ToJson(), Is.EqualTo(Settings(Path.GetFullPath(dir), true).ToJson()));
        // Not without its data: resumed without the mixture, the run would skip what is left of stage 1 and still finish.
        Assert.That(() => new RecContext(seed: 1).Trainers.CalRec(saved).Fit(split, []),
            Throws.ArgumentException.With.Message.Contains("mixture synthetic/beauty (30 users); this one was given target synthetic/beauty (30 users), mixture none"));
        CalRecModel resumed = new RecContext(seed: 1).Trainers.CalRec(saved).Fit(split, mixture);
        Assert.That(resumed.Training.ValidationNdcg10, Is.EqualTo(straight.Training.ValidationNdcg10));
        Assert.That(resumed.Towers.ItemEmbeddings.ToArray(), Is.EqualTo(straight.Towers.ItemEmbeddings.ToArray()), "resuming continues exactly where the run stopped");
    }

    [Test]
    public void TheTimeLeftThatProgressReportsRespectsAMinuteBudget()
    {
        InteractionDataset data = Synthetic(30).ForDomain("beauty");
        CalRecTrainer.Options o = Tiny();
        o.Stage1 = new CalRecStageOptions { Epochs = 0 };
        o.Stage2 = new CalRecStageOptions { Epochs = 200, MaxMinutes = 0.05, LearningRate = 1e-3f };
        CalRecTrainer trainer = new RecContext(seed: 1).Trainers.CalRec(o);
        var reports = new List<CalRecProgress>();
        trainer.Progress += (_, e) => reports.Add(e);
        trainer.Fit(new LeaveOneOutSplit(data), []);

        List<CalRecProgress> stage2 = reports.Where(r => r.Phase == "stage2").ToList();
        Assert.That(stage2, Is.Not.Empty);
        Assert.That(stage2.Max(r => r.Remaining), Is.LessThanOrEqualTo(TimeSpan.FromMinutes(0.05)), "200 epochs would take far longer; the budget ends the stage");
    }

    [TestCase("pretrain", 5, null)]
    [TestCase("stage1", 2, null)]
    [TestCase("stage1", 3, MetaAlgorithm.Reptile)]
    [TestCase("stage1", 2, MetaAlgorithm.FirstOrderMaml)]
    [TestCase("stage2", 3, null, 0.9f)]
    public void AKilledRunLosesAtMostCheckpointMinutesOfWorkAndResumesToTheSameModel(string phase, int step, MetaAlgorithm? meta, float average = 0f)
    {
        InteractionDataset data = Synthetic(30).ForDomain("beauty");
        var split = new LeaveOneOutSplit(data);
        IReadOnlyList<InteractionDataset> mixture = [data];
        CalRecTrainer.Options Settings(string? dir)
        {
            var o = Tiny();
            if (meta is MetaAlgorithm algorithm)
            {
                // Stage 1 as meta-learning: the task generator and first-order MAML's outer moments are part of the state.
                o.Meta = new MetaLearningOptions { Algorithm = algorithm, InnerSteps = 1, InnerLearningRate = 1e-2f, OuterLearningRate = 0.5f };
            }

            o.WeightAverage = average; // the average is part of the state too
            o.CheckpointDirectory = dir;
            o.CheckpointMinutes = 1e-9; // every step: what a long run gets every few minutes
            return o;
        }

        CalRecModel straight = new RecContext(seed: 1).Trainers.CalRec(Settings(null)).Fit(split, mixture);

        // A crash, not a cancellation: nothing runs after it, so only the time-based checkpoint can have saved the work
        // (in stage 1 this is before its first validation).
        string dir = Path.Combine(_dir, "killed");
        CalRecTrainer first = new RecContext(seed: 1).Trainers.CalRec(Settings(dir));
        int lastStage1Step = 0, stage2Steps = 0;
        first.Progress += (_, e) =>
        {
            lastStage1Step = e.Phase == "stage1" ? e.Step : lastStage1Step;
            stage2Steps += e.Phase == "stage2" ? 1 : 0;
            if (e.Phase == phase && e.Step == step)
            {
                throw new InvalidOperationException("killed");
            }
        };
        Assert.That(() => first.Fit(split, mixture), Throws.InvalidOperationException.With.Message.EqualTo("killed"));
        Assert.That((lastStage1Step > 0, stage2Steps), Is.EqualTo(phase switch { "pretrain" => (false, 0), "stage1" => (true, 0), _ => (true, step) }), "killed where the test meant to");
        Assert.That(lastStage1Step, Is.EqualTo(phase == "stage1" ? step : lastStage1Step));
        // The checkpoint is the one written after the step before the kill (not the stage's start).
        JsonNode saved = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, phase == "pretrain" ? "trainer_state.json" : "state.json")))!;
        Assert.That(saved["step"]!.GetValue<int>(), Is.EqualTo(step - 1));
        Assert.That(Directory.Exists(dir), Is.True, "a checkpoint exists before the first validation");

        CalRecModel resumed = new RecContext(seed: 1).Trainers.CalRec(CalRecTrainer.Options.FromCheckpoint(dir)).Fit(split, mixture);
        Assert.That(resumed.Training.ValidationNdcg10, Is.EqualTo(straight.Training.ValidationNdcg10));
        Assert.That(resumed.Towers.ItemEmbeddings.ToArray(), Is.EqualTo(straight.Towers.ItemEmbeddings.ToArray()));
    }

    [TestCase(MetaAlgorithm.Reptile)]
    [TestCase(MetaAlgorithm.FirstOrderMaml)]
    public void MetaLearningReplacesStage1AndStage2CanBeFewShot(MetaAlgorithm algorithm)
    {
        InteractionDataset all = Synthetic(40);
        InteractionDataset target = all.ForDomain("beauty");
        var o = Tiny();
        o.Meta = new MetaLearningOptions { Algorithm = algorithm, InnerSteps = 2, InnerLearningRate = 1e-2f, OuterLearningRate = 0.5f, TaskSampling = TaskSampling.Uniform };
        o.FewShotExamples = 30;
        var ctx = new RecContext(seed: 1);
        var log = new List<string>();
        ctx.Log += (_, e) => log.Add(e.Message);
        CalRecTrainer trainer = ctx.Trainers.CalRec(o);
        var stage2 = new List<string>();
        trainer.TrainingDataObserver = (phase, _, user, _) =>
        {
            if (phase == "stage2")
            {
                stage2.Add(user);
            }
        };
        CalRecModel model = trainer.Fit(target, all.Domains.Select(all.ForDomain).ToList());
        Assert.That(log, Has.Some.Contains($"stage1 ({algorithm}): 3 tasks [33 %, 33 %, 33 %]"));
        Assert.That(log, Has.Some.Contains("meta-step"));
        Assert.That(stage2, Has.Count.EqualTo(30), "few-shot stage 2 trains on exactly N windows");
        Assert.That(stage2.Distinct(), Is.EqualTo(target.Users.Take(stage2.Distinct().Count())), "taken from the first users in order");
        Assert.That(model.Training.ValidationNdcg10, Is.GreaterThan(0));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void StepBudgetsEndEachStageAfterExactlyThatManyGradientSteps(bool meta)
    {
        InteractionDataset all = Synthetic(40);
        InteractionDataset target = all.ForDomain("beauty");
        var o = Tiny();
        o.Stage1.Epochs = 5;
        o.Stage1.MaxSteps = 6;
        o.Stage2.Epochs = 5;
        o.Stage2.MaxSteps = 4;
        if (meta)
        {
            o.Meta = new MetaLearningOptions { Algorithm = MetaAlgorithm.Reptile, InnerSteps = 2, InnerLearningRate = 1e-2f, OuterLearningRate = 0.5f };
        }

        CalRecTrainer trainer = new RecContext(seed: 1).Trainers.CalRec(o);
        var steps = new Dictionary<string, List<CalRecProgress>> { ["pretrain"] = [], ["stage1"] = [], ["stage2"] = [] };
        trainer.Progress += (_, e) => steps[e.Phase].Add(e);
        trainer.Fit(target, all.Domains.Select(all.ForDomain).ToList());

        // Reptile's 6-step budget is 3 meta-steps of 2 inner steps each.
        Assert.That(steps["stage1"].Select(e => e.Step), Is.EqualTo(meta ? new[] { 1, 2, 3 } : new[] { 1, 2, 3, 4, 5, 6 }));
        Assert.That(steps["stage1"].Select(e => e.TotalSteps).Distinct(), Is.EqualTo(new[] { meta ? 3 : 6 }), "progress counts toward the budget");
        Assert.That(steps["stage2"].Select(e => e.Step), Is.EqualTo(new[] { 1, 2, 3, 4 }));
        Assert.That(steps["stage2"][^1].ValidationNdcg10, Is.Not.Null, "the last step of a budget is validated");
    }

    [Test]
    public void DropoutActsInTheFinetuningStagesWhileTrainingAndNeverWhenScoring()
    {
        InteractionDataset data = Synthetic(30).ForDomain("kitchen");
        (List<CalRecProgress> Steps, CalRecModel Model) Train(float? dropout)
        {
            CalRecTrainer.Options o = Tiny();
            o.Stage1.Epochs = 0;
            o.Stage2.MaxSteps = 3;
            o.Dropout = dropout;
            CalRecTrainer trainer = new RecContext(seed: 1).Trainers.CalRec(o);
            var steps = new List<CalRecProgress>();
            trainer.Progress += (_, e) => steps.Add(e);
            return (steps, trainer.Fit(data));
        }

        (List<CalRecProgress> plain, CalRecModel plainModel) = Train(null);
        (List<CalRecProgress> dropped, CalRecModel model) = Train(0.3f);
        Assert.That(dropped.Where(e => e.Phase == CalRecPhase.Pretrain).Select(e => e.Loss), Is.EqualTo(plain.Where(e => e.Phase == CalRecPhase.Pretrain).Select(e => e.Loss)),
            "stage 0 keeps the backbone's own setting");
        Assert.That(dropped.First(e => e.Phase == CalRecPhase.Stage2).Loss, Is.Not.EqualTo(plain.First(e => e.Phase == CalRecPhase.Stage2).Loss),
            "the first finetuning step already drops units");
        Assert.That(model.Backbone.Config.Dropout, Is.EqualTo(0.3f));
        Assert.That(plainModel.Backbone.Config.Dropout, Is.Zero, "by default the backbone's own setting (the preset's 0)");

        int[][] histories = data.Sequences.Take(4).Select(h => h[..^1]).ToArray();
        float[] first = new float[4 * model.ItemCount], second = new float[4 * model.ItemCount];
        model.Score(histories, first);
        model.Score(histories, second);
        Assert.That(second, Is.EqualTo(first), "no masks are drawn when scoring");
        float[] fresh = CalRecScorer.EncodeCatalogue(model.Backbone.WithDropout(0f), model.Towers.Table, model.Settings.Pooling);
        Assert.That(fresh, Is.EqualTo(model.Towers.ItemEmbeddings.ToArray()), "the item index is the dropout-free item tower");
    }

    [TestCase(DecoderArchitecture.Llama)]
    [TestCase(DecoderArchitecture.Gpt2)]
    public void FinetunesAHuggingFaceCheckpointWithLoraAndMergesTheAdapters(DecoderArchitecture architecture)
    {
        InteractionDataset data = Synthetic(30).ForDomain("office");
        var ctx = new RecContext(seed: 1);
        var tok = ctx.Text.TrainTokenizer(data.Items, 400);
        DecoderConfig config = DecoderPresets.Find("tiny")! with { VocabSize = tok.VocabularySize };
        if (architecture == DecoderArchitecture.Gpt2)
        {
            // LoRA targets come from the architecture: GPT-2 has c_attn / c_proj / c_fc, no q_proj.
            config = config with { Architecture = DecoderArchitecture.Gpt2, ModelType = "gpt2", NumKeyValueHeads = config.NumHeads, TieWordEmbeddings = true };
        }

        var lm = new DecoderLM(config, seed: 4);
        string folder = Path.Combine(_dir, "checkpoint");
        Models.Checkpoints.HuggingFaceCheckpoint.Save(lm, tok, folder);
        float[] before = lm.parameters().SelectMany(p => p.Data.ToArray()).ToArray();

        var o = Tiny();
        o.Backbone = folder;
        o.LoraRank = 4;
        o.Stage2.Epochs = 1;
        // The Llama case adds identity tokens: under LoRA their embedding rows train in full (PEFT's modules_to_save).
        o.ItemIdentityTokens = architecture == DecoderArchitecture.Llama;
        var log = new List<string>();
        ctx.Log += (_, e) => log.Add(e.Message);
        CalRecModel model = ctx.Trainers.CalRec(o).Fit(data);
        if (o.ItemIdentityTokens)
        {
            int d = config.HiddenSize, row = model.Settings.IdentityTokenBase!.Value;
            int[] text = new ItemTextTable(data.Items, tok, null, o.MaxItemTokens).Tokens(0);
            float[] embedding = lm.TokenEmbedding.ToArray();
            float[] initial = Enumerable.Range(0, d).Select(c => text.Select(t => embedding[(t * d) + c]).Average()).ToArray();
            float[] trained = model.Backbone.TokenEmbedding.Data.Slice(row * d, d).ToArray();
            Assert.That(trained.Zip(initial, (a, b) => Math.Abs(a - b)).Max(), Is.GreaterThan(1e-4f), "item 0's identity row trained beside the adapters");
        }

        Assert.That(log, Has.Some.Contains($"finetuning {folder}"), "a checkpoint folder is finetuned, not trained from scratch");
        Assert.That(log, Has.None.Contains("stage 0"), "no LM pretraining for a given checkpoint");
        Assert.That(model.Backbone.named_parameters().Select(p => p.Name), Has.None.Contains("lora"), "adapters are merged into the saved backbone");
        Assert.That(model.Backbone.named_parameters().Select(p => p.Name), Is.EqualTo(lm.named_parameters().Select(p => p.Name)));
        Assert.That(model.Backbone.Config.VocabSize, Is.EqualTo(tok.VocabularySize + (o.ItemIdentityTokens ? data.ItemCount : 0)));
        float[] after = model.Backbone.parameters().SelectMany(p => p.Data.ToArray()).ToArray();
        Assert.That(after.Zip(before, (a, b) => Math.Abs(a - b)).Max(), Is.GreaterThan(0f), "the merged adapters changed the weights");
        Assert.That(model.Tokenizer.VocabularySize, Is.EqualTo(tok.VocabularySize));

        // A checkpoint whose tokenizer lacks the item separator is refused with the folder named.
        var plain = Text.Tokenization.ByteLevelBpeTokenizer.Train(data.Items.Select(i => i.Title), new Text.Tokenization.BpeTrainerOptions { VocabularySize = 300 });
        string other = Path.Combine(_dir, "no-separator");
        Models.Checkpoints.HuggingFaceCheckpoint.Save(new DecoderLM(DecoderPresets.Find("tiny")! with { VocabSize = plain.VocabularySize }), plain, other);
        o.Backbone = other;
        Assert.That(() => ctx.Trainers.CalRec(o).Fit(data), Throws.ArgumentException.With.Message.Contains("no-separator").And.Message.Contains("<|item|>"));
    }

    [TestCase(MixtureSampling.Proportional, 1f, "[80 %, 20 %]")]
    [TestCase(MixtureSampling.Temperature, 2f, "[67 %, 33 %]")]
    [TestCase(MixtureSampling.Temperature, 1000f, "[50 %, 50 %]")]
    public void MixtureDomainsAreSampledProportionallyOrTemperatureSmoothed(MixtureSampling sampling, float temperature, string expected)
    {
        // Two domains with 4x as many training windows in the first: weights n^(1/T) give 80/20, 67/33 (T = 2), 50/50 (T → ∞).
        InteractionDataset all = Synthetic(40);
        InteractionDataset big = all.ForDomain("beauty");
        InteractionDataset bigFour = InteractionDataset.Create("big", big.Items,
            Enumerable.Range(0, 4).SelectMany(copy => big.Users.Select((u, i) => new UserSequence($"{u}-{copy}", big.Sequences[i].Select(x => big.Items[x].Id).ToList(), null))));
        var o = Tiny();
        o.MixtureSampling = sampling;
        o.MixtureTemperature = temperature;
        o.PretrainSteps = 0;
        o.Stage2.Enabled = false;
        var ctx = new RecContext(seed: 1);
        var log = new List<string>();
        ctx.Log += (_, e) => log.Add(e.Message);
        ctx.Trainers.CalRec(o).Fit(big, [bigFour, big]);
        Assert.That(log, Has.Some.Contains($"from 2 domain(s) {expected}"));
    }
    private static (DecoderLM Text, DecoderLM Grown, ItemTextTable TextTable, ItemTextTable IdTable, InteractionDataset Data, Text.Tokenization.ByteLevelBpeTokenizer Tokenizer) IdentitySetup()
    {
        InteractionDataset data = Synthetic(20).ForDomain("office");
        var tok = new RecContext(seed: 1).Text.TrainTokenizer(data.Items, 400);
        var model = new DecoderLM(DecoderPresets.Find("tiny")! with { VocabSize = tok.VocabularySize }, seed: 9);
        var text = new ItemTextTable(data.Items, tok, null, 12);
        DecoderLM grown = model.WithAddedTokens(data.ItemCount, item => text.Tokens(item), seed: 9);
        return (model, grown, text, new ItemTextTable(data.Items, tok, null, 12, model.Config.VocabSize), data, tok);
    }

    [Test]
    public void IdentityTokensFollowTheVocabularyKeepEveryWeightAndStartAsTheMeanOfTheirItemsTextTokens()
    {
        (DecoderLM model, DecoderLM grown, ItemTextTable text, ItemTextTable ids, InteractionDataset data, Text.Tokenization.ByteLevelBpeTokenizer tok) = IdentitySetup();
        int v = model.Config.VocabSize, d = model.Config.HiddenSize;
        Assert.That(grown.Config.VocabSize, Is.EqualTo(v + data.ItemCount));
        for (int i = 0; i < data.ItemCount; i++)
        {
            Assert.That(ids.Tokens(i), Is.EqualTo(new[] { v + i }.Concat(text.Tokens(i))), "an item's identity token comes before its text");
        }

        float[] table = grown.TokenEmbedding.ToArray(), old = model.TokenEmbedding.ToArray();
        Assert.That(table[..old.Length], Is.EqualTo(old));
        int[] tokens = text.Tokens(5);
        for (int c = 0; c < d; c++)
        {
            float mean = tokens.Select(t => old[(t * d) + c]).Sum() / tokens.Length;
            Assert.That(table[((v + 5) * d) + c], Is.EqualTo(mean).Within(1e-6f));
        }

        // Every other weight is the same: text-only inputs give the same hidden states.
        int[] input = [.. text.Tokens(3), text.Separator, .. text.Tokens(4)];
        using (TensorScope.Begin())
        {
            Assert.That(grown.Hidden(input, 1, input.Length).ToArray(), Is.EqualTo(model.Hidden(input, 1, input.Length).ToArray()));
        }

        Assert.That(() => new ItemTextTable(data.Items, tok, null, 12, v - 1), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void IdentityRowsCanStartFromPretrainedTextEmbeddingsKeepingTheirScale()
    {
        (DecoderLM _, DecoderLM grown, ItemTextTable _, ItemTextTable _, InteractionDataset data, _) = IdentitySetup();
        int n = data.ItemCount, d = grown.Config.HiddenSize, first = grown.Config.VocabSize - n, dim = 48;
        // Pretrained-like vectors in two clusters: items of even index near one direction, odd near another.
        var g = new SeededRandom(4);
        float[] vectors = new float[n * dim];
        for (int i = 0; i < n; i++)
        {
            for (int c = 0; c < dim; c++)
            {
                vectors[(i * dim) + c] = (c == i % 2 ? 3f : 0f) + (0.3f * (float)g.NextGaussian());
            }
        }

        float[] before = grown.TokenEmbedding.ToArray();
        double Rms(float[] t, int from, int count) => Math.Sqrt(t.Skip(from * d).Take(count * d).Sum(x => (double)x * x) / (count * d));
        CalRecTrainer.InitializeIdentityRows(grown, first, vectors, dim);
        float[] after = grown.TokenEmbedding.ToArray();
        Assert.That(after[..(first * d)], Is.EqualTo(before[..(first * d)]), "the vocabulary's rows are untouched");
        Assert.That(Rms(after, first, n), Is.EqualTo(Rms(before, first, n)).Within(1e-4), "the identity rows keep their scale");
        double Cos(int a, int b) => Enumerable.Range(0, d).Sum(c => (double)after[((first + a) * d) + c] * after[((first + b) * d) + c])
            / Math.Sqrt(Enumerable.Range(0, d).Sum(c => Math.Pow(after[((first + a) * d) + c], 2)) * Enumerable.Range(0, d).Sum(c => Math.Pow(after[((first + b) * d) + c], 2)));
        Assert.That(Cos(0, 2), Is.GreaterThan(Cos(0, 1) + 0.5), "the embeddings' neighbourhoods carry over");

        CalRecTrainer.Options o = Tiny();
        o.ItemIdentityTokens = false;
        o.IdentityInit = IdentityInitialization.MiniLm;
        Assert.That(() => new RecContext(seed: 1).Trainers.CalRec(o).Fit(data), Throws.ArgumentException.With.Message.Contains("ItemIdentityTokens"));
    }

    [Test]
    public void AHybridWhoseIdentityRowsStartFromMiniLmTrains()
    {
        InteractionDataset data = Synthetic(20).ForDomain("office");
        CalRecModel Train(IdentityInitialization init)
        {
            CalRecTrainer.Options o = Tiny();
            o.Stage1.Epochs = 0;
            o.Stage2.MaxSteps = 2;
            o.IdentityInit = init;
            return new RecContext(seed: 1).Trainers.CalRec(o).Fit(data);
        }

        CalRecModel minilm = Train(IdentityInitialization.MiniLm), mean = Train(IdentityInitialization.TextMean);
        int first = minilm.Settings.IdentityTokenBase!.Value, d = minilm.Backbone.Config.HiddenSize;
        float[] a = minilm.Backbone.TokenEmbedding.ToArray()[(first * d)..], b = mean.Backbone.TokenEmbedding.ToArray()[(first * d)..];
        Assert.That(a, Has.Length.EqualTo(data.ItemCount * d));
        Assert.That(a.Zip(b, (x, y) => Math.Abs(x - y)).Max(), Is.GreaterThan(0.01f), "the identity rows started elsewhere");
        Assert.That(a.All(float.IsFinite));
    }

    [Test]
    public void WithIdentityTokensLmIsATextSoftmaxPlusACatalogueSoftmaxWithGradientsToTheIdentityRows()
    {
        (_, DecoderLM model, _, ItemTextTable ids, InteractionDataset data, _) = IdentitySetup();
        model.eval();
        int v = ids.IdentityBase!.Value, n = data.ItemCount, d = model.Config.HiddenSize;
        var examples = data.Sequences.Take(4).Select((s, u) => new HistoryExample(ids, 0, u, s.Take(5).ToArray())).ToList();
        HistoryBatch batch = HistoryBatch.Build(examples);
        Assert.That(batch.Identities, Is.EqualTo(new IdentityTokens(v, n)));
        Assert.That(batch.IdentityLmTargets, Is.EqualTo(examples.SelectMany(e => e.Items.Skip(1))), "one identity target per target item, in order");
        Assert.That(batch.IdentityLmPositions.Select(p => batch.Ids[p + 1]), Is.EqualTo(batch.IdentityLmTargets.Select(t => v + t)));
        Assert.That(batch.TextLmTargets, Has.All.LessThan(v));
        Assert.That(batch.TextLmPositions.Length + batch.IdentityLmPositions.Length, Is.EqualTo(batch.LmPositions.Length));

        // Direct computation: each text position's cross entropy over the text ids, each identity position's over the items.
        float[] hidden, weight = model.OutputWeight.ToArray();
        using (TensorScope.Begin())
        {
            hidden = model.Hidden(batch.Ids, batch.Rows, batch.Length, ManagedTensor.from(batch.Mask, batch.Rows, batch.Length)).ToArray();
        }

        double MeanCrossEntropy(int[] positions, int[] targets, int start, int count) => positions.Select((p, k) =>
        {
            double[] logits = Enumerable.Range(start, count).Select(r => (double)Enumerable.Range(0, d).Sum(c => hidden[(p * d) + c] * weight[(r * d) + c])).ToArray();
            double max = logits.Max();
            return max + Math.Log(logits.Sum(l => Math.Exp(l - max))) - logits[targets[k]];
        }).Average();
        double expected = MeanCrossEntropy(batch.TextLmPositions, batch.TextLmTargets, 0, v) + MeanCrossEntropy(batch.IdentityLmPositions, batch.IdentityLmTargets, v, n);
        LossValues values;
        var lmOnly = new LossWeights(1f, 0f, 0f);
        model.zero_grad();
        using (TensorScope.Begin())
        {
            CalRecObjective.Loss(model, batch, lmOnly, Pooling.LastToken, 0.1f, out values).backward();
        }

        Assert.That(values.Lm, Is.EqualTo(expected).Within(1e-4 * expected));

        // The identity rows get the gradient finite differences give (the row of the first target item, its largest entry).
        int row = v + batch.IdentityLmTargets[0];
        float[] grad = model.TokenEmbedding.grad!.ToArray();
        int at = Enumerable.Range(row * d, d).MaxBy(i => Math.Abs(grad[i]));
        Assert.That(Math.Abs(grad[at]), Is.GreaterThan(1e-4f));
        float Loss(float delta)
        {
            model.TokenEmbedding.Data[at] += delta;
            using TensorScope scope = TensorScope.Begin();
            CalRecObjective.Loss(model, batch, lmOnly, Pooling.LastToken, 0.1f, out LossValues l);
            model.TokenEmbedding.Data[at] -= delta;
            return l.Total;
        }

        const float H = 1e-2f;
        double numeric = (Loss(H) - Loss(-H)) / (2 * H);
        Assert.That(numeric, Is.EqualTo(grad[at]).Within(0.05 * Math.Abs(grad[at])));

        // The text part weighted by TextLm: 0.5 halves it; 0 leaves the identity positions alone, so a text token the batch
        // does not contain (a softmax negative of every text position otherwise) gets no gradient.
        double text = MeanCrossEntropy(batch.TextLmPositions, batch.TextLmTargets, 0, v), identity = MeanCrossEntropy(batch.IdentityLmPositions, batch.IdentityLmTargets, v, n);
        int absent = Enumerable.Range(0, v).First(t => !batch.Ids.Contains(t));
        foreach (float w in new[] { 1f, 0.5f, 0f })
        {
            model.zero_grad();
            using (TensorScope.Begin())
            {
                CalRecObjective.Loss(model, batch, new LossWeights(1f, 0f, 0f, w), Pooling.LastToken, 0.1f, out values).backward();
            }

            Assert.That(values.Lm, Is.EqualTo((w * text) + identity).Within(1e-4 * expected), $"TextLm {w}");
            float[] g = model.OutputWeight.grad!.ToArray();
            Assert.That(Enumerable.Range(absent * d, d).Max(i => Math.Abs(g[i])), w == 0f ? Is.EqualTo(0f) : Is.GreaterThan(1e-7f), $"TextLm {w}: the output row of a text token not in the batch");
        }
    }

    [Test]
    public void TheTextPartOfTheLmTermCanBeWeightedOnlyWithIdentityTokens()
    {
        CalRecTrainer.Options o = Tiny();
        o.ItemIdentityTokens = false;
        o.TextLmWeight = 0f;
        Assert.That(() => new RecContext(seed: 1).Trainers.CalRec(o).Fit(Synthetic(20).ForDomain("office")), Throws.ArgumentException.With.Message.Contains("TextLmWeight"));
    }

    [Test]
    public void IdentityTokensLearnASequenceThatItemTextsCannotTellAndSurviveSaveAndLoad()
    {
        // 60 items whose texts say nothing about order (one of four words, at random); every user walks the catalogue in
        // id order from a random start. Text alone cannot tell which item comes next; identity tokens can.
        var g = new SeededRandom(11);
        string[] words = ["red lamp", "blue cup", "green pen", "soft towel"];
        var items = Enumerable.Range(0, 60).Select(i => new CatalogItem($"i{i}", words[g.NextInt(words.Length)], string.Empty)).ToList();
        var users = Enumerable.Range(0, 240).Select(u =>
        {
            int start = g.NextInt(60);
            return new UserSequence($"u{u}", Enumerable.Range(0, 8).Select(k => items[(start + k) % 60].Id).ToList(), null);
        });
        InteractionDataset data = InteractionDataset.Create("walk", items, users);
        var split = new LeaveOneOutSplit(data);
        double Ndcg(RecommenderModel m) => RecommendationEvaluator.Evaluate(m, split.Test, new RecommendationEvaluatorOptions { BootstrapSamples = 0 })["ndcg@10"].Value;
        CalRecModel Train(bool identities)
        {
            CalRecTrainer.Options o = Tiny();
            o.Stage2 = new CalRecStageOptions { Epochs = 12, LearningRate = 3e-3f };
            o.ValidationUsers = 0;
            o.ItemIdentityTokens = identities;
            return new RecContext(seed: 1).Trainers.CalRec(o).Fit(split);
        }

        CalRecModel text = Train(false), hybrid = Train(true);
        double textNdcg = Ndcg(text), hybridNdcg = Ndcg(hybrid);
        TestContext.Out.WriteLine($"NDCG@10 text only {textNdcg:F4}, with identity tokens {hybridNdcg:F4}");
        Assert.That(hybrid.Settings.IdentityTokenBase, Is.EqualTo(hybrid.Tokenizer.VocabularySize));
        Assert.That(hybridNdcg, Is.GreaterThan(0.5).And.GreaterThan(textNdcg + 0.3));
        Assert.That(text.Towers.IdentityWeight, Is.Zero);
        Assert.That(hybrid.Towers.IdentityWeight, Is.EqualTo(Tiny().Temperature), "the hybrid scores cosine + τ·identity logit");
        Assert.That(() => text.TuneIdentityWeight(split.Validation), Throws.TypeOf<NotSupportedException>().With.Message.Contains("--item-ids"));

        // The identity head adds λ times the next-identity logits: linear in λ, and alone it names the next item in the walk.
        int[][] walks = data.Sequences.Take(40).Select(h => h[..^1]).ToArray();
        float[] Scores(float lambda)
        {
            float[] s = new float[walks.Length * data.ItemCount];
            hybrid.WithIdentityWeight(lambda).Score(walks, s);
            return s;
        }

        float[] none = Scores(0f), half = Scores(0.5f), one = Scores(1f), alone = Scores(100f);
        Assert.That(one.Select((x, i) => Math.Abs(x - none[i] - (2 * (half[i] - none[i])))).Max(), Is.LessThan(1e-3f));
        int named = walks.Where((h, u) => Array.IndexOf(alone, alone.AsSpan(u * data.ItemCount, data.ItemCount).ToArray().Max(), u * data.ItemCount) - (u * data.ItemCount) == (h[^1] + 1) % 60).Count();
        Assert.That(named, Is.GreaterThan(walks.Length / 2), "the identity head predicts the next item of the walk");

        // One scorer keeps its identity rows and logits buffer between calls: scoring again, and a smaller batch (the
        // last 8 of the 40, which were the second pass of 32 users), gives the same scores.
        CalRecModel weighted = hybrid.WithIdentityWeight(1f);
        float[] first = new float[walks.Length * data.ItemCount], again = new float[first.Length], tail = new float[8 * data.ItemCount];
        weighted.Score(walks, first);
        weighted.Score(walks[^8..], tail);
        weighted.Score(walks, again);
        Assert.That(again, Is.EqualTo(first));
        Assert.That(tail, Is.EqualTo(first[^tail.Length..]).Within(1e-5f));
        Assert.That(first, Is.EqualTo(one).Within(1e-5f));

        // Every grounding path runs on a hybrid model: generated identity tokens have no text and are left out of it.
        foreach (Grounding.GroundingPath grounding in Enum.GetValues<Grounding.GroundingPath>())
        {
            var grounded = new Grounding.GroundedScorer(hybrid, new Grounding.GroundingOptions { Path = grounding, Candidates = 2, ListLength = 10, ConstrainedBeams = 4 });
            float[] s = new float[2 * data.ItemCount];
            grounded.Score(walks[..2], s);
            Assert.That(s.All(float.IsFinite) && s.Distinct().Count() > 1, grounding.ToString());
        }

        var ctx = new RecContext(seed: 2);
        string path = Path.Combine(_dir, "ids.zip");
        ctx.Model.Save(hybrid, path);
        var loaded = (CalRecModel)ctx.Model.Load(path);
        Assert.That(loaded.Settings, Is.EqualTo(hybrid.Settings with { Template = loaded.Settings.Template }));
        int[][] histories = data.Sequences.Take(5).Select(h => h[..^1]).ToArray();
        float[] before = new float[5 * data.ItemCount], after = new float[5 * data.ItemCount];
        hybrid.Score(histories, before);
        loaded.Score(histories, after);
        Assert.That(after, Is.EqualTo(before));

        // An identity base that does not fit the backbone is refused with the zip named.
        string bad = Path.Combine(_dir, "bad-ids.zip");
        File.Copy(path, bad);
        using (var zip = System.IO.Compression.ZipFile.Open(bad, System.IO.Compression.ZipArchiveMode.Update))
        {
            System.IO.Compression.ZipArchiveEntry entry = zip.Entries.Single(e => e.FullName.EndsWith("calrec/config.json", StringComparison.Ordinal));
            System.Text.Json.Nodes.JsonObject config;
            using (Stream st = entry.Open())
            {
                config = System.Text.Json.Nodes.JsonNode.Parse(st)!.AsObject();
            }

            string name = entry.FullName;
            entry.Delete();
            config["identity_token_base"] = 3;
            using var w = new StreamWriter(zip.CreateEntry(name).Open());
            w.Write(config.ToJsonString());
        }

        Assert.That(() => ctx.Model.Load(bad), Throws.TypeOf<ModelFormatException>().With.Message.Contains("bad-ids.zip").And.Message.Contains("identity_token_base"));
    }
}
