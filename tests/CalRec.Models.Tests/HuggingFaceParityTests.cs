using System.Runtime.CompilerServices;
using System.Text.Json;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;

namespace CalRec.Models.Tests;

/// <summary>
/// Logits of checkpoints made by Fixtures/make_fixtures.py (a PyTorch re-implementation of the transformers forward
/// passes) must match ours to 1e-4. The fixtures also cover sharding, BF16/F16 storage, Qwen2 biases, tied embeddings,
/// GPT-2 Conv1D layout, missing "transformer." prefixes and attn.bias buffers.
/// </summary>
[TestFixture]
public class HuggingFaceParityTests
{
    private static string Fixture(string name, [CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "Fixtures", name);

    [TestCase("llama")]
    [TestCase("qwen2")]
    [TestCase("gpt2")]
    public void LogitsMatchPyTorchReference(string name)
    {
        string dir = Fixture(name);
        using JsonDocument expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "expected.json")));
        int[][] ids = expected.RootElement.GetProperty("input_ids").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        float[] want = expected.RootElement.GetProperty("logits").EnumerateArray().Select(e => e.GetSingle()).ToArray();

        (DecoderLM model, _) = HuggingFaceCheckpoint.Load(dir);
        model.eval();
        using TensorScope scope = TensorScope.Begin();
        using var noGrad = Tape.no_grad();
        int b = ids.Length, t = ids[0].Length;
        float[] got = model.Logits(model.Hidden(ids.SelectMany(r => r).ToArray(), b, t)).ToArray();
        Assert.That(got, Has.Length.EqualTo(want.Length));
        double maxDiff = got.Zip(want, (x, y) => Math.Abs(x - y)).Max();
        TestContext.Out.WriteLine($"{name}: max |logit diff| = {maxDiff:E2}");
        Assert.That(maxDiff, Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void SavedFolderReloadsWithTheSameLogits()
    {
        (DecoderLM model, _) = HuggingFaceCheckpoint.Load(Fixture("gpt2"));
        string dir = Path.Combine(Path.GetTempPath(), "calrec-parity-" + Guid.NewGuid().ToString("N"));
        try
        {
            HuggingFaceCheckpoint.Save(model, null, dir);
            (DecoderLM again, _) = HuggingFaceCheckpoint.Load(dir);
            int[] ids = [1, 2, 3, 4];
            Assert.That(Run(again, ids), Is.EqualTo(Run(model, ids)));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static float[] Run(DecoderLM m, int[] ids)
    {
        using TensorScope scope = TensorScope.Begin();
        using var noGrad = Tape.no_grad();
        return m.Logits(m.Hidden(ids, 1, ids.Length)).ToArray();
    }
}
