using CalRec.Models.Adapters;
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
/// F32/F16/BF16, tokenizer.json) and PEFT LoRA folders through our checkpoint code, so a model or adapter trained on one
/// engine loads on the other.
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

    /// <summary>
    /// Writes <paramref name="model"/>'s LoRA adapters alone in PEFT's layout (<c>adapter_config.json</c> +
    /// <c>adapter_model.safetensors</c>), the files our engine's <see cref="LoraAdapters.Save"/> writes and PEFT reads.
    /// </summary>
    public static void SaveAdapters(TorchDecoderLM model, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        // The adapted layers by the names their parameters carry (TorchSharp also lists modules under their field names).
        const string AdapterA = ".lora_A.weight";
        var adapted = model.named_parameters().Select(p => p.name).Where(n => n.EndsWith(AdapterA, StringComparison.Ordinal)).Select(n => n[..^AdapterA.Length]).ToList();
        if (adapted.Count == 0)
        {
            throw new InvalidOperationException("The model has no LoRA adapters to save.");
        }

        var first = (TorchLinear)model.named_modules().First(m => m.name == adapted[0]).module;
        var config = new LoraConfig
        {
            Rank = (int)first.LoraRank,
            Alpha = first.LoraAlpha,
            Dropout = first.LoraDropout,
            TargetModules = adapted.Select(n => n[(n.LastIndexOf('.') + 1)..]).Distinct().ToList(),
        };
        var tensors = new List<(string Name, ManagedTensor Tensor)>();
        try
        {
            foreach ((string name, Parameter p) in model.named_parameters().Where(p => p.name.Contains(".lora_", StringComparison.Ordinal)))
            {
                using Tensor value = p.detach().cpu().to(ScalarType.Float32).contiguous();
                tensors.Add((name, ManagedTensor.from(value.data<float>().ToArray(), value.shape.Select(d => (int)d).ToArray())));
            }

            LoraAdapters.Write(tensors, config, directory);
        }
        finally
        {
            foreach ((_, ManagedTensor t) in tensors)
            {
                t.Dispose();
            }
        }
    }

    /// <summary>
    /// Reads a PEFT LoRA folder (written by PEFT, by our engine or by <see cref="SaveAdapters"/>), attaches its adapters to
    /// <paramref name="model"/>'s target layers (the rest frozen, as our engine's <see cref="LoraAdapters.Load"/> does) and
    /// loads their weights on the model's device. A tensor that fits no adapted layer, a wrong shape or a missing tensor
    /// is an <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static LoraConfig LoadAdapters(TorchDecoderLM model, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        LoraConfig config = LoraAdapters.ReadConfig(directory);
        var targets = model.named_modules().Where(m => m.module is TorchLinear && LoraAdapters.IsTarget(m.name, config)).Select(m => (TorchLinear)m.module).Distinct().ToList();
        if (targets.Count == 0)
        {
            throw new ArgumentException($"No linear layer matches the LoRA targets [{string.Join(", ", config.TargetModules)}].");
        }

        foreach (Parameter p in model.parameters())
        {
            p.requires_grad = false;
        }

        foreach (TorchLinear layer in targets)
        {
            layer.AttachLora(config.Rank, config.Alpha, config.Dropout);
        }

        var own = model.named_parameters().Where(p => p.name.Contains(".lora_", StringComparison.Ordinal)).ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        string path = Path.Combine(directory, "adapter_model.safetensors");
        int loaded = 0;
        using (no_grad())
        {
            foreach ((string name, string local, ManagedTensor t) in LoraAdapters.ReadTensors(directory))
            {
                using (t)
                {
                    long[] shape = t.shape.ToArray().Select(d => (long)d).ToArray();
                    if (!own.TryGetValue(local, out Parameter? target))
                    {
                        throw new InvalidDataException($"{path}: adapter tensor '{name}' matches no adapted layer of the model.");
                    }

                    if (!target.shape.SequenceEqual(shape))
                    {
                        throw new InvalidDataException($"{path}: adapter tensor '{name}' has shape [{string.Join(", ", shape)}], expected [{string.Join(", ", target.shape)}].");
                    }

                    using Tensor value = tensor(t.Data.ToArray(), shape, device: target.device);
                    target.copy_(value);
                    loaded++;
                }
            }
        }

        return loaded == own.Count ? config : throw new InvalidDataException($"{directory}: {loaded} adapter tensors loaded, the targets need {own.Count}.");
    }

    private static void SameConfig(TorchDecoderLM torchModel, DecoderLM managed)
    {
        if (torchModel.Config != managed.Config)
        {
            throw new ArgumentException("The two models have different configurations.");
        }
    }
}
