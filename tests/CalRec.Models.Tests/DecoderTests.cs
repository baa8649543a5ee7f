using System.Text.Json.Nodes;
using CalRec.Models.Checkpoints;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Models.Training;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Serialization;

namespace CalRec.Models.Tests;

[TestFixture]
public class DecoderTests
{
    private string _dir = null!;

    internal static readonly DecoderConfig Llama = new()
    {
        VocabSize = 50, HiddenSize = 16, NumLayers = 2, NumHeads = 4, NumKeyValueHeads = 2, IntermediateSize = 24, MaxPositions = 64, TieWordEmbeddings = false,
    };

    internal static readonly DecoderConfig Qwen2 = Llama with { ModelType = "qwen2", AttentionBias = true, TieWordEmbeddings = true };

    internal static readonly DecoderConfig Gpt2 = new()
    {
        Architecture = DecoderArchitecture.Gpt2, ModelType = "gpt2", VocabSize = 50, HiddenSize = 16, NumLayers = 2, NumHeads = 4, NumKeyValueHeads = 4, IntermediateSize = 64, MaxPositions = 32,
    };

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "calrec-models-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private static IEnumerable<DecoderConfig> All() => [Llama, Qwen2, Gpt2, Llama with { Dropout = 0.1f }, Qwen2 with { Dropout = 0.2f }, Gpt2 with { Dropout = 0.1f }];

    [Test]
    public void HuggingFaceNamesAndParameterCounts()
    {
        var llama = new DecoderLM(Llama);
        Assert.That(llama.state_dict().Keys, Does.Contain("model.layers.1.self_attn.q_proj.weight").And.Contain("model.norm.weight").And.Contain("lm_head.weight"));
        Assert.That(llama.parameter_count(), Is.EqualTo(Llama.ParameterCount()));
        var qwen = new DecoderLM(Qwen2);
        Assert.That(qwen.state_dict().Keys, Does.Contain("model.layers.0.self_attn.k_proj.bias").And.Not.Contain("lm_head.weight"));
        Assert.That(qwen.parameter_count(), Is.EqualTo(Qwen2.ParameterCount()));
        var gpt = new DecoderLM(Gpt2);
        Assert.That(gpt.state_dict().Keys, Does.Contain("transformer.h.0.attn.c_attn.weight").And.Contain("transformer.wpe.weight"));
        Assert.That(gpt.parameter_count(), Is.EqualTo(Gpt2.ParameterCount()));
    }

    [TestCaseSource(nameof(All))]
    public void ConfigJsonRoundTrip(DecoderConfig config)
    {
        string path = Path.Combine(_dir, "config.json");
        config.Save(path);
        Assert.That(DecoderConfig.Load(path), Is.EqualTo(config));
    }

    [Test]
    public void Gpt2SpellingsAndUnsupportedTypes()
    {
        var o = JsonNode.Parse("""{"model_type":"gpt2","vocab_size":10,"n_embd":8,"n_layer":1,"n_head":2,"n_positions":16}""")!.AsObject();
        DecoderConfig c = DecoderConfig.FromJson(o);
        Assert.That((c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize, c.MaxPositions), Is.EqualTo((8, 1, 2, 32, 16)));
        var bad = JsonNode.Parse("""{"model_type":"mamba","vocab_size":10}""")!.AsObject();
        Assert.That(Assert.Throws<InvalidDataException>(() => DecoderConfig.FromJson(bad, "x/config.json"))!.Message, Does.Contain("model_type 'mamba' is not supported"));
        var odd = JsonNode.Parse("""{"model_type":"llama","vocab_size":10,"hidden_size":10,"num_hidden_layers":1,"num_attention_heads":3,"intermediate_size":4}""")!.AsObject();
        Assert.That(Assert.Throws<InvalidDataException>(() => DecoderConfig.FromJson(odd))!.Message, Does.Contain("not divisible"));
    }

    [TestCaseSource(nameof(All))]
    public void SaveLoadGivesIdenticalLogits(DecoderConfig config)
    {
        var model = new DecoderLM(config, seed: 3);
        int[] ids = [1, 5, 9, 2, 7, 7, 3, 0];
        float[] before = Logits(model, ids);
        string dir = Path.Combine(_dir, "m");
        HuggingFaceCheckpoint.Save(model, null, dir);
        (DecoderLM loaded, _) = HuggingFaceCheckpoint.Load(dir);
        Assert.That(Logits(loaded, ids), Is.EqualTo(before));
        Assert.That(Directory.GetDirectories(_dir), Has.Length.EqualTo(1), "no temporary folder left behind");
    }

    [Test]
    public void LoadWithTokenizerNamesTheMissingTokenizerFile()
    {
        var tokenizer = Text.Tokenization.ByteLevelBpeTokenizer.Train(["red apple", "green apple"], new Text.Tokenization.BpeTrainerOptions { VocabularySize = 270 });
        var model = new DecoderLM(All().First() with { VocabSize = tokenizer.VocabularySize }, seed: 3);
        string bare = Path.Combine(_dir, "bare"), full = Path.Combine(_dir, "full");
        HuggingFaceCheckpoint.Save(model, null, bare);
        HuggingFaceCheckpoint.Save(model, tokenizer, full);

        Assert.That(() => HuggingFaceCheckpoint.LoadWithTokenizer(bare),
            Throws.InstanceOf<FileNotFoundException>().With.Message.Contains(bare).And.Message.Contains("tokenizer.json"));
        Assert.That(HuggingFaceCheckpoint.LoadWithTokenizer(full).Tokenizer.VocabularySize, Is.EqualTo(tokenizer.VocabularySize));
    }

    [Test]
    public void Gpt2WeightsAreStoredConv1DWithoutPrefixAccepted()
    {
        var model = new DecoderLM(Gpt2, seed: 4);
        string dir = Path.Combine(_dir, "g");
        HuggingFaceCheckpoint.Save(model, null, dir);
        using (var r = new SafeTensorsReader(Path.Combine(dir, "model.safetensors")))
        {
            Assert.That(r.GetInfo("transformer.h.0.attn.c_attn.weight").Shape, Is.EqualTo(new[] { 16, 48 }), "Conv1D stores [in, out]");
        }

        // Re-save without the "transformer." prefix and with an attn.bias buffer, as some GPT-2 files are.
        Dictionary<string, ManagedTensor> raw;
        using (var r = new SafeTensorsReader(Path.Combine(dir, "model.safetensors")))
        {
            raw = r.ReadAll().ToDictionary(kv => kv.Key.Replace("transformer.", string.Empty, StringComparison.Ordinal), kv => kv.Value);
        }

        raw["h.0.attn.bias"] = ManagedTensor.ones(1, 1, 32, 32);
        SafeTensorsWriter.Save(Path.Combine(dir, "model.safetensors"), raw);
        (DecoderLM loaded, _) = HuggingFaceCheckpoint.Load(dir);
        int[] ids = [3, 1, 4, 1, 5];
        Assert.That(Logits(loaded, ids), Is.EqualTo(Logits(model, ids)));
    }

    [Test]
    public void MissingOrMisshapenTensorIsNamed()
    {
        var model = new DecoderLM(Llama);
        string dir = Path.Combine(_dir, "l");
        HuggingFaceCheckpoint.Save(model, null, dir);
        string file = Path.Combine(dir, "model.safetensors");
        Dictionary<string, ManagedTensor> sd;
        using (var r = new SafeTensorsReader(file))
        {
            sd = r.ReadAll();
        }

        sd.Remove("model.layers.1.mlp.up_proj.weight");
        SafeTensorsWriter.Save(file, sd);
        Assert.That(Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(dir))!.Message, Does.Contain("'model.layers.1.mlp.up_proj.weight' is missing"));
        sd["model.layers.1.mlp.up_proj.weight"] = ManagedTensor.zeros(3, 3);
        SafeTensorsWriter.Save(file, sd);
        Assert.That(Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(dir))!.Message, Does.Contain("'model.layers.1.mlp.up_proj.weight' has shape [3, 3], expected [24, 16]"));
    }

    [Test]
    public void PaddingDoesNotChangeRealPositions()
    {
        var model = new DecoderLM(Llama, seed: 5);
        model.eval();
        using TensorScope scope = TensorScope.Begin();
        using var _ = Tape.no_grad();
        float[] alone = model.Hidden([4, 8, 15], 1, 3).ToArray();
        ManagedTensor mask = ManagedTensor.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 1], 2, 5);
        float[] padded = model.Hidden([4, 8, 15, 0, 0, 1, 2, 3, 4, 5], 2, 5, mask).ToArray();
        Assert.That(padded.Take(3 * 16), Is.EqualTo(alone).Within(1e-5));
    }

    [Test]
    public void TrainerLowersValidationLossOnRepetitiveText()
    {
        var g = new SeededRandom(1);
        var docs = Enumerable.Range(0, 60).Select(i => (IReadOnlyList<int>)Enumerable.Range(0, 20).Select(j => (i % 5) + (j % 7) + 1).ToList()).ToList();
        var train = new PackedTokenDataset(docs.Take(50), 0, 16);
        var val = new PackedTokenDataset(docs.Skip(50), 0, 16);
        var model = new DecoderLM(Llama, seed: 1);
        var trainer = new CausalLmTrainer(model, new CausalLmTrainerOptions { Steps = 60, BatchSize = 8, LearningRate = 1e-2f, WarmupSteps = 5, EvalEvery = 0 });
        float initial = trainer.Evaluate(val);
        LmStepReport last = trainer.Train(train, val)!;
        Assert.That(initial, Is.GreaterThan(3.5f), "about ln(50) before training");
        Assert.That(last.ValidationLoss, Is.LessThan(1.5f));
    }

    private static float[] Logits(DecoderLM model, int[] ids)
    {
        model.eval();
        using TensorScope scope = TensorScope.Begin();
        using var _ = Tape.no_grad();
        return model.Logits(model.Hidden(ids, 1, ids.Length)).ToArray();
    }
}

[TestFixture]
public class PresetTests
{
    private static string ModelsDir([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "models"));

    [TestCase("tiny.json", 229_696L)]
    [TestCase("small.json", 5_245_184L)]
    [TestCase("base.json", 33_563_136L)]
    public void PresetsLoadAndMatchDocumentedParameterCounts(string file, long parameters)
    {
        DecoderConfig config = DecoderConfig.Load(Path.Combine(ModelsDir(), file));
        Assert.That(config.ParameterCount(), Is.EqualTo(parameters), "models/README.md lists this count");
        Assert.That(File.ReadAllText(Path.Combine(ModelsDir(), "README.md")), Does.Contain(parameters.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)));
        // The built-in preset of the same name is the same model (calrec pretrain --config small works from any folder).
        Assert.That(DecoderPresets.Find(Path.GetFileNameWithoutExtension(file)), Is.EqualTo(config));
    }
}

[TestFixture]
public class CheckpointErrorTests
{
    [Test]
    public void TokenizerLargerThanVocabularyIsAClearError()
    {
        string dir = Path.Combine(Path.GetTempPath(), "calrec-vocab-" + Guid.NewGuid().ToString("N"));
        try
        {
            var tok = CalRec.Text.Tokenization.ByteLevelBpeTokenizer.Train(["abc abd abe"], new CalRec.Text.Tokenization.BpeTrainerOptions { VocabularySize = 300, MinFrequency = 1 });
            Assert.That(tok.VocabularySize, Is.GreaterThan(DecoderTests.Llama.VocabSize));
            HuggingFaceCheckpoint.Save(new DecoderLM(DecoderTests.Llama), tok, dir);
            var ex = Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(dir));
            Assert.That(ex!.Message, Does.Contain("tokenizer has").And.Contain("vocab_size is 50"));
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, true);
            }
        }
    }

    [Test]
    public void MissingFolderPiecesAreNamed()
    {
        string dir = Path.Combine(Path.GetTempPath(), "calrec-empty-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            Assert.That(Assert.Throws<FileNotFoundException>(() => HuggingFaceCheckpoint.Load(dir))!.Message, Does.Contain("no config.json"));
            DecoderTests.Llama.Save(Path.Combine(dir, "config.json"));
            Assert.That(Assert.Throws<FileNotFoundException>(() => HuggingFaceCheckpoint.Load(dir))!.Message, Does.Contain("neither model.safetensors"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
