using System.Globalization;
using System.Text.Json.Nodes;
using CalRec.Tensors;
using CalRec.Tensors.Memory;
using CalRec.Tensors.NN;
using CalRec.Tensors.Optim;
using CalRec.Tensors.Serialization;

namespace CalRec.Models.Checkpoints;

/// <summary>
/// The parts of a resumable training checkpoint every trainer writes the same way: AdamW's moments keyed by parameter
/// name (<c>exp_avg.NAME</c>, <c>exp_avg_sq.NAME</c>, as PyTorch keys optimizer state) and random-generator states as
/// JSON arrays of decimal strings (JSON numbers cannot hold every 64-bit value).
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>Writes <paramref name="optimizer"/>'s moments for <paramref name="model"/>'s parameters to a safetensors file.</summary>
    public static void SaveOptimizer(AdamWOptimizer optimizer, NeuralModule model, string path)
    {
        Dictionary<ManagedTensor, string> names = ParameterNames(model);
        using (TensorScope.Begin())
        {
            var moments = new Dictionary<string, ManagedTensor>(StringComparer.Ordinal);
            foreach ((ManagedTensor p, float[] m, float[] v) in optimizer.State())
            {
                moments["exp_avg." + names[p]] = ManagedTensor.from(m, p.shape.ToArray());
                moments["exp_avg_sq." + names[p]] = ManagedTensor.from(v, p.shape.ToArray());
            }

            SafeTensorsWriter.Save(path, moments);
        }
    }

    /// <summary>Reads what <see cref="SaveOptimizer"/> wrote into <paramref name="optimizer"/>; a size mismatch is an <see cref="InvalidDataException"/>.</summary>
    public static void RestoreOptimizer(AdamWOptimizer optimizer, NeuralModule model, string path)
    {
        Dictionary<ManagedTensor, string> names = ParameterNames(model);
        using var reader = new SafeTensorsReader(path);
        foreach ((ManagedTensor p, float[] m, float[] v) in optimizer.State())
        {
            using ManagedTensor mt = reader.ReadTensor("exp_avg." + names[p]);
            using ManagedTensor vt = reader.ReadTensor("exp_avg_sq." + names[p]);
            if (mt.numel != m.Length || vt.numel != v.Length)
            {
                throw new InvalidDataException($"{reader.Path}: moments of '{names[p]}' do not match the parameter's size.");
            }

            mt.Data.CopyTo(m);
            vt.Data.CopyTo(v);
        }
    }

    /// <summary>A generator's state as JSON.</summary>
    public static JsonArray RandomState(SeededRandom random) =>
        new(random.GetState().Select(x => (JsonNode)x.ToString(CultureInfo.InvariantCulture)).ToArray());

    /// <summary>Restores a generator from <see cref="RandomState"/>'s JSON.</summary>
    public static void RestoreRandom(SeededRandom random, JsonNode? state, string source) =>
        random.SetState((state as JsonArray ?? throw new InvalidDataException($"{source}: no random-generator state."))
            .Select(n => ulong.Parse(n!.GetValue<string>(), CultureInfo.InvariantCulture)).ToArray());

    private static Dictionary<ManagedTensor, string> ParameterNames(NeuralModule model)
    {
        var names = new Dictionary<ManagedTensor, string>(ReferenceEqualityComparer.Instance);
        foreach ((string name, ManagedTensor p) in model.named_parameters())
        {
            names[p] = name;
        }

        return names;
    }
}
