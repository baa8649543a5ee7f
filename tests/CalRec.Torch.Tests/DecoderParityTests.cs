using CalRec.Models.Adapters;
using CalRec.Models.Checkpoints;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Models.Generation;
using CalRec.Text.Tokenization;
using CalRec.Torch.Decoder;
using CalRec.Torch.Embeddings;
using CalRec.Torch.Generation;
using static TorchSharp.torch;

namespace CalRec.Torch.Tests;

/// <summary>The TorchSharp decoders against PyTorch's reference logits and against our engine, on the same weights.</summary>
public sealed class DecoderParityTests
{
    [TestCaseSource(typeof(Fixtures), nameof(Fixtures.Names))]
    public void LogitsMatchThePyTorchReferenceAndOurEngine(string name)
    {
        (int[][] ids, float[] want) = Fixtures.Expected(name);
        (TorchDecoderLM model, _) = TorchWeights.Load(Fixtures.Folder(name));

        float[] got = Fixtures.TorchLogits(model, ids);
        float[] ours = Fixtures.ManagedLogits(Fixtures.Managed(name), ids);

        double vsReference = Fixtures.MaxAbsDiff(got, want), vsOurs = Fixtures.MaxAbsDiff(got, ours);
        TestContext.Out.WriteLine($"{name}: max |logit diff| vs PyTorch {vsReference:E2}, vs our engine {vsOurs:E2}");
        Assert.That(vsReference, Is.LessThanOrEqualTo(1e-4));
        Assert.That(vsOurs, Is.LessThanOrEqualTo(1e-4));
    }

    [TestCaseSource(typeof(Fixtures), nameof(Fixtures.Names))]
    public void LeftPaddedBatchesWithExplicitPositionsMatchOurEngine(string name)
    {
        DecoderLM ours = Fixtures.Managed(name);
        TorchDecoderLM torchModel = TorchWeights.ToTorch(ours);
        int[][] ids = Fixtures.RandomIds(3, 7, ours.Config.VocabSize, 11);
        int[] pads = [0, 2, 5];
        float[] mask = pads.SelectMany(p => Enumerable.Range(0, 7).Select(t => t < p ? 0f : 1f)).ToArray();
        int[] positions = pads.SelectMany(p => Enumerable.Range(0, 7).Select(t => Math.Max(0, t - p))).ToArray();

        float[] got = Fixtures.TorchLogits(torchModel, ids, mask, positions);
        float[] want = Fixtures.ManagedLogits(ours, ids, mask, positions);

        Assert.That(got.All(float.IsFinite), Is.True, "padding rows see no key: zeros from attention, not NaN");
        Assert.That(Fixtures.MaxAbsDiff(got, want), Is.LessThanOrEqualTo(1e-4));
    }

    [TestCaseSource(typeof(Fixtures), nameof(Fixtures.Names))]
    public void LoraAdaptersTravelBetweenTheEnginesAsPeftFolders(string name)
    {
        int[][] ids = Fixtures.RandomIds(2, 6, Fixtures.Managed(name).Config.VocabSize, 4);
        string fromTorch = Path.Combine(Path.GetTempPath(), "calrec-peft-" + Guid.NewGuid().ToString("N"));
        string fromOurs = fromTorch + "-ours";
        try
        {
            // TorchSharp -> PEFT folder -> our engine: adapters trained on the device (here: random B) load onto our engine.
            (TorchDecoderLM torchModel, _) = TorchWeights.Load(Fixtures.Folder(name));
            DecoderLM shadow = Fixtures.Managed(name);
            var config = new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0.1f, TargetModules = shadow.Config.LinearModuleNames };
            LoraAdapters.Apply(shadow, config, seed: 1);
            TorchWeights.MirrorLora(shadow, torchModel);
            using (no_grad())
            {
                manual_seed(7);
                foreach ((string n, var p) in torchModel.named_parameters().Where(p => p.name.Contains(".lora_", StringComparison.Ordinal)))
                {
                    p.copy_(randn_like(p) * 0.1);
                }
            }

            torchModel.eval();
            TorchWeights.SaveAdapters(torchModel, fromTorch);
            DecoderLM ours = Fixtures.Managed(name);
            LoraConfig read = LoraAdapters.Load(ours, fromTorch);
            ours.eval();
            Assert.That((read.Rank, read.Alpha, read.Dropout), Is.EqualTo((4, 8f, 0.1f)));
            Assert.That(read.TargetModules, Is.EquivalentTo(shadow.Config.LinearModuleNames));
            float[] torchLogits = Fixtures.TorchLogits(torchModel, ids);
            Assert.That(Fixtures.MaxAbsDiff(Fixtures.ManagedLogits(ours, ids), torchLogits), Is.LessThanOrEqualTo(1e-4));
            Assert.That(Fixtures.MaxAbsDiff(torchLogits, Fixtures.ManagedLogits(Fixtures.Managed(name), ids)), Is.GreaterThan(1e-3), "the adapters change the logits");

            // Our engine -> PEFT folder -> TorchSharp.
            LoraAdapters.Save(ours, read, fromOurs);
            (TorchDecoderLM reloaded, _) = TorchWeights.Load(Fixtures.Folder(name));
            TorchWeights.LoadAdapters(reloaded, fromOurs);
            reloaded.eval();
            Assert.That(Fixtures.MaxAbsDiff(Fixtures.TorchLogits(reloaded, ids), torchLogits), Is.LessThanOrEqualTo(1e-5));
            Assert.That(reloaded.parameters().Where(p => p.requires_grad).Select(p => p.shape.Length), Has.All.EqualTo(2), "only the adapters train after loading");
            Assert.That(() => TorchWeights.SaveAdapters(TorchWeights.Load(Fixtures.Folder(name)).Model, fromTorch + "-none"),
                Throws.InvalidOperationException.With.Message.Contains("no LoRA adapters"));
        }
        finally
        {
            foreach (string dir in new[] { fromTorch, fromOurs }.Where(Directory.Exists))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Test]
    public void AModelChangedOnTorchSharpAndSavedLoadsOnOurEngineWithTheSameLogits()
    {
        (TorchDecoderLM model, _) = TorchWeights.Load(Fixtures.Folder("qwen2"));
        using (no_grad())
        {
            // Move every weight, so that a name or layout mix-up cannot pass unnoticed.
            manual_seed(5);
            foreach (var p in model.parameters())
            {
                p.add_(randn_like(p) * 0.05);
            }
        }

        int[][] ids = Fixtures.RandomIds(2, 6, model.Config.VocabSize, 3);
        string dir = Path.Combine(Path.GetTempPath(), "calrec-torch-" + Guid.NewGuid().ToString("N"));
        try
        {
            TorchWeights.Save(model, null, dir);
            (DecoderLM reloaded, _) = HuggingFaceCheckpoint.Load(dir);
            reloaded.eval();
            double diff = Fixtures.MaxAbsDiff(Fixtures.ManagedLogits(reloaded, ids), Fixtures.TorchLogits(model, ids));
            Assert.That(diff, Is.LessThanOrEqualTo(1e-4));
            Assert.That(Fixtures.MaxAbsDiff(Fixtures.ManagedLogits(reloaded, ids), Fixtures.ManagedLogits(Fixtures.Managed("qwen2"), ids)), Is.GreaterThan(1e-2),
                "the changed weights travelled, not the fixture's");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCaseSource(typeof(Fixtures), nameof(Fixtures.Names))]
    public void GreedyAndBeamGenerationGiveOurEnginesTokenIds(string name)
    {
        DecoderLM ours = Fixtures.Managed(name);
        TorchDecoderLM torchModel = TorchWeights.ToTorch(ours);
        int[][] prompts = [[5, 9, 2, 7, 1], [3, 8], [4, 4, 6]];
        static string Decode(IEnumerable<int> ids) => string.Join(' ', ids);

        foreach (GenerationOptions options in (GenerationOptions[])[
            new() { Strategy = DecodingStrategy.Greedy, MaxNewTokens = 10 },
            new() { Strategy = DecodingStrategy.BeamSearch, NumBeams = 3, NumReturnSequences = 2, MaxNewTokens = 6 },
            new() { Strategy = DecodingStrategy.Sampling, Temperature = 0.8f, TopK = 20, TopP = 0.95f, NumReturnSequences = 2, MaxNewTokens = 8, Seed = 11 }])
        {
            using var managedSteps = new DecoderStepModel(ours);
            using var torchSteps = new TorchStepModel(torchModel);
            var want = new SequenceGenerator(managedSteps, Decode).Generate(prompts, options);
            var got = new SequenceGenerator(torchSteps, Decode).Generate(prompts, options);
            Assert.That(got.Select(r => r.Select(s => s.TokenIds)), Is.EqualTo(want.Select(r => r.Select(s => s.TokenIds))), $"{options.Strategy}");
            Assert.That(got.SelectMany(r => r.Select(s => s.LogProb)), Is.EqualTo(want.SelectMany(r => r.Select(s => s.LogProb))).Within(1e-3));
        }

        // Trie-constrained beam search (the grounding path that decodes only catalogue items): the same items, in order.
        var trie = new TokenTrie(Enumerable.Range(0, 12).Select(i => (IReadOnlyList<int>)[1 + (i % 5), 2 + (i % 3), 3 + i, 1 + (i % 4)]).ToList());
        using var ourSteps = new DecoderStepModel(ours);
        using var theirSteps = new TorchStepModel(torchModel);
        var wantItems = new SequenceGenerator(ourSteps, Decode).GenerateConstrained(prompts[0], trie, numBeams: 4, count: 3);
        var gotItems = new SequenceGenerator(theirSteps, Decode).GenerateConstrained(prompts[0], trie, numBeams: 4, count: 3);
        Assert.That(gotItems.Select(r => r.Index), Is.EqualTo(wantItems.Select(r => r.Index)), "constrained");
        Assert.That(gotItems.Select(r => r.LogProb), Is.EqualTo(wantItems.Select(r => r.LogProb)).Within(1e-3));
    }

    [TestCase(Pooling.Mean)]
    [TestCase(Pooling.LastToken)]
    public void TextEmbeddingsOnTorchSharpAreOurEnginesEmbeddings(Pooling pooling)
    {
        string[] texts = ["wireless mouse, black", "a", "stapler with 200 staples and a long, long description", "mouse pad", "pens, blue"];
        ByteLevelBpeTokenizer tokenizer = ByteLevelBpeTokenizer.Train(texts, new BpeTrainerOptions { VocabularySize = 300, SpecialTokens = [.. SpecialTokens.All] });
        var ours = new DecoderLM(DecoderPresets.Find("tiny")! with { VocabSize = tokenizer.VocabularySize }, seed: 4);
        float[] want = new LanguageModelEmbedder(ours, tokenizer, pooling, batchSize: 2, maxTokens: 12).Encode(texts);
        float[] got = new TorchTextEmbedder(TorchWeights.ToTorch(ours), tokenizer, pooling, batchSize: 2, maxTokens: 12).Encode(texts);
        Assert.That(Fixtures.MaxAbsDiff(got, want), Is.LessThanOrEqualTo(1e-4));
        Assert.That(want.Distinct().Count(), Is.GreaterThan(want.Length / 2), "real vectors");
    }
}
