using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.NN;
using CalRec.Text.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CalRec.Torch.Decoder;

/// <summary>
/// Moves decoder weights between our engine (<see cref="DecoderLM"/>) and TorchSharp (<see cref="TorchDecoderLM"/>) by
/// their Hugging Face names, and reads and writes the same Hugging Face folders (config.json, model.safetensors in
/// F32/F16/BF16, tokenizer.json) through our checkpoint code, so a model trained on one engine loads on the other.
/// </summary>
public static class TorchWeights
{
    /// <summary>A TorchSharp copy of <paramref name="model"/> on <paramref name="device"/> (null: CPU), in eval mode.</summary>
    public static TorchDecoderLM ToTorch(DecoderLM model, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var result = new TorchDecoderLM(model.Config);
        MirrorLora(model, result);
        CopyInto(model, result);
        result.eval();
        return device is null || device.type == DeviceType.CPU ? result : result.to(device);
    }

    /// <summary>
    /// Attaches to <paramref name="target"/> a LoRA adapter wherever <paramref name="source"/> has one (same rank, α and
    /// dropout) and freezes exactly the parameters frozen in <paramref name="source"/>, so that the two carry and train
    /// the same parameters; the values are copied by <see cref="CopyInto(DecoderLM, TorchDecoderLM)"/>.
    /// </summary>
    public static void MirrorLora(DecoderLM source, TorchDecoderLM target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var layers = target.named_modules().Where(m => m.module is TorchLinear).ToDictionary(m => m.name, m => (TorchLinear)m.module, StringComparer.Ordinal);
        foreach ((string name, NeuralModule module) in source.named_modules())
        {
            if (module is LinearLayer { Lora: { } lora } && layers.TryGetValue(name, out TorchLinear? layer) && layer.LoraRank == 0)
            {
                layer.AttachLora(lora.Rank, lora.Alpha, lora.Dropout);
            }
        }

        var trains = source.named_parameters().ToDictionary(p => p.Name, p => p.Parameter.requires_grad, StringComparer.Ordinal);
        foreach ((string name, Parameter p) in target.named_parameters())
        {
            if (trains.TryGetValue(name, out bool requiresGrad))
            {
                p.requires_grad = requiresGrad;
            }
        }
    }

    /// <summary>Copies <paramref name="source"/>'s weights into <paramref name="target"/> (same configuration).</summary>
    public static void CopyInto(DecoderLM source, TorchDecoderLM target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        SameConfig(target, source);
        TorchParameters.CopyInto(source.named_parameters(), target);
    }

    /// <summary>Copies <paramref name="source"/>'s weights into our engine's <paramref name="target"/> (same configuration).</summary>
    public static void CopyInto(TorchDecoderLM source, DecoderLM target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        SameConfig(source, target);
        TorchParameters.CopyInto(source, target.named_parameters());
    }

    /// <summary>Loads a Hugging Face folder onto <paramref name="device"/> (null: CPU), with its tokenizer when it has one.</summary>
    public static (TorchDecoderLM Model, ByteLevelBpeTokenizer? Tokenizer) Load(string directory, Device? device = null)
    {
        (DecoderLM model, ByteLevelBpeTokenizer? tokenizer) = HuggingFaceCheckpoint.Load(directory);
        return (ToTorch(model, device), tokenizer);
    }

    /// <summary>Writes <paramref name="model"/> as a Hugging Face folder (atomically, as our engine's models are written).</summary>
    public static void Save(TorchDecoderLM model, ByteLevelBpeTokenizer? tokenizer, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        var managed = new DecoderLM(model.Config);
        CopyInto(model, managed);
        HuggingFaceCheckpoint.Save(managed, tokenizer, directory);
    }

    private static void SameConfig(TorchDecoderLM torchModel, DecoderLM managed)
    {
        if (torchModel.Config != managed.Config)
        {
            throw new ArgumentException("The two models have different configurations.");
        }
    }
}
