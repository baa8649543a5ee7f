using System.Runtime.CompilerServices;
using System.Text.Json;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using static TorchSharp.torch;

namespace CalRec.Torch.Tests;

/// <summary>
/// The decoder checkpoints of tests/CalRec.Models.Tests/Fixtures (made by make_fixtures.py with PyTorch: Llama with
/// sharded BF16 storage, Qwen2 with attention biases and grouped-query heads, GPT-2 with Conv1D layout) and helpers to
/// run both engines on the same input.
/// </summary>
internal static class Fixtures
{
    internal static readonly string[] Names = ["llama", "qwen2", "gpt2"];

    internal static string Folder(string name, [CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "..", "CalRec.Models.Tests", "Fixtures", name);

    internal static (int[][] Ids, float[] Logits) Expected(string name)
    {
        using JsonDocument expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(name), "expected.json")));
        int[][] ids = expected.RootElement.GetProperty("input_ids").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        float[] logits = expected.RootElement.GetProperty("logits").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        return (ids, logits);
    }

    internal static DecoderLM Managed(string name)
    {
        (DecoderLM model, _) = HuggingFaceCheckpoint.Load(Folder(name));
        model.eval();
        return model;
    }

    /// <summary>Our engine's logits [B·T·V] for ids [B, T] with an optional mask [B, T] and positions [B·T].</summary>
    internal static float[] ManagedLogits(DecoderLM model, int[][] ids, float[]? mask = null, int[]? positions = null)
    {
        using TensorScope scope = TensorScope.Begin();
        using var noGrad = Tape.no_grad();
        int b = ids.Length, t = ids[0].Length;
        ManagedTensor? m = mask is null ? null : ManagedTensor.from(mask, b, t);
        return model.Logits(model.Hidden(ids.SelectMany(r => r).ToArray(), b, t, m, positions: positions)).ToArray();
    }

    /// <summary>TorchSharp's logits [B·T·V] for the same input.</summary>
    internal static float[] TorchLogits(Decoder.TorchDecoderLM model, int[][] ids, float[]? mask = null, int[]? positions = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long b = ids.Length, t = ids[0].Length;
        Tensor input = Ids(ids);
        Tensor? m = mask is null ? null : tensor(mask, [b, t]);
        Tensor? p = positions is null ? null : tensor(positions.Select(x => (long)x).ToArray(), [b, t]);
        return model.Logits(model.Hidden(input, m, p)).contiguous().data<float>().ToArray();
    }

    internal static Tensor Ids(int[][] ids) => tensor(ids.SelectMany(r => r).Select(x => (long)x).ToArray(), [ids.Length, ids[0].Length]);

    internal static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.That(a, Has.Length.EqualTo(b.Length));
        return a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
    }

    /// <summary>Seeded token ids [rows, length] below <paramref name="vocabulary"/>.</summary>
    internal static int[][] RandomIds(int rows, int length, int vocabulary, ulong seed)
    {
        var g = new SeededRandom(seed);
        return Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, length).Select(_ => g.NextInt(vocabulary)).ToArray()).ToArray();
    }
}
