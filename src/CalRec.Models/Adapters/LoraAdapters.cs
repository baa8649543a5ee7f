using System.Text.Json;
using System.Text.Json.Nodes;
using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.NN;
using CalRec.Tensors.Serialization;

namespace CalRec.Models.Adapters;

/// <summary>
/// Applies LoRA adapters to a <see cref="DecoderLM"/>, freezes the base weights, and saves/loads adapters on their own in
/// PEFT's layout (<c>adapter_config.json</c> + <c>adapter_model.safetensors</c> with names like
/// <c>base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight</c>).
/// </summary>
public static class LoraAdapters
{
    private const string Prefix = "base_model.model.";

    /// <summary>
    /// Attaches fresh adapters to every linear layer whose name matches a target, and freezes everything else.
    /// Returns the trainable (adapter) parameters, which are all an optimizer should see.
    /// </summary>
    public static IReadOnlyList<ManagedTensor> Apply(DecoderLM model, LoraConfig config, ulong seed = 0)
    {
        var g = new SeededRandom(seed);
        var targets = Targets(model, config).ToList();
        if (targets.Count == 0)
        {
            throw new ArgumentException($"No linear layer matches the LoRA targets [{string.Join(", ", config.TargetModules)}].");
        }

        foreach (ManagedTensor p in model.parameters())
        {
            p.requires_grad = false;
        }

        var trainable = new List<ManagedTensor>();
        foreach ((_, LinearLayer layer) in targets)
        {
            LoraAdapter a = layer.AttachLora(config.Rank, config.Alpha, config.Dropout, g);
            trainable.Add(a.lora_A.weight);
            trainable.Add(a.lora_B.weight);
        }

        return trainable;
    }

    /// <summary>Folds every adapter into its base weight and removes it; the model is then an ordinary model again.</summary>
    public static void Merge(DecoderLM model)
    {
        foreach ((_, NeuralModule m) in model.named_modules().ToList())
        {
            if (m is LinearLayer { Lora: not null } layer)
            {
                layer.MergeLora();
            }
        }

        foreach (ManagedTensor p in model.parameters())
        {
            p.requires_grad = true;
        }
    }

    /// <summary>Writes the adapters only, in PEFT's layout, atomically.</summary>
    public static void Save(DecoderLM model, LoraConfig config, string directory) =>
        Write(model.named_parameters().Where(p => p.Name.Contains(".lora_", StringComparison.Ordinal)).Select(p => (p.Name, p.Parameter)), config, directory);

    /// <summary>
    /// Writes adapter tensors (named as in the model, e.g. <c>model.layers.0.self_attn.q_proj.lora_A.weight</c>) and their
    /// settings in PEFT's layout: the writer behind <see cref="Save"/> for any engine's model.
    /// </summary>
    public static void Write(IEnumerable<(string Name, ManagedTensor Tensor)> adapters, LoraConfig config, string directory)
    {
        ArgumentNullException.ThrowIfNull(config);
        var tensors = adapters.ToDictionary(p => Prefix + p.Name, p => p.Tensor, StringComparer.Ordinal);
        if (tensors.Count == 0)
        {
            throw new InvalidOperationException("The model has no LoRA adapters to save.");
        }

        Directory.CreateDirectory(directory);
        var json = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["r"] = config.Rank,
            ["lora_alpha"] = config.Alpha,
            ["lora_dropout"] = config.Dropout,
            ["target_modules"] = new JsonArray(config.TargetModules.Select(t => (JsonNode)t).ToArray()),
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
        };
        string configPath = Path.Combine(directory, "adapter_config.json");
        string tmp = configPath + $".tmp-{Guid.NewGuid():N}";
        File.WriteAllText(tmp, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        SafeTensorsWriter.Save(Path.Combine(directory, "adapter_model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        File.Move(tmp, configPath, overwrite: true);
    }

    /// <summary>Reads PEFT adapters from <paramref name="directory"/>, attaches them to <paramref name="model"/> and loads their weights.</summary>
    public static LoraConfig Load(DecoderLM model, string directory)
    {
        LoraConfig config = ReadConfig(directory);
        Apply(model, config);
        Dictionary<string, ManagedTensor> own = model.state_dict();
        string path = Path.Combine(directory, "adapter_model.safetensors");
        int loaded = 0;
        foreach ((string name, string local, ManagedTensor t) in ReadTensors(directory))
        {
            using (t)
            {
                if (!own.TryGetValue(local, out ManagedTensor? target))
                {
                    throw new InvalidDataException($"{path}: adapter tensor '{name}' matches no adapted layer of the model.");
                }

                if (!t.shape.SequenceEqual(target.shape))
                {
                    throw new InvalidDataException($"{path}: adapter tensor '{name}' has shape {ManagedTensor.FormatShape(t.shape)}, expected {ManagedTensor.FormatShape(target.shape)}.");
                }

                t.Data.CopyTo(target.Data);
                loaded++;
            }
        }

        int expected = own.Keys.Count(k => k.Contains(".lora_", StringComparison.Ordinal));
        if (loaded != expected)
        {
            throw new InvalidDataException($"{directory}: {loaded} adapter tensors loaded, the targets need {expected}.");
        }

        return config;
    }

    /// <summary>The settings in a PEFT folder's <c>adapter_config.json</c> (LoRA only).</summary>
    public static LoraConfig ReadConfig(string directory)
    {
        string configPath = Path.Combine(directory, "adapter_config.json");
        JsonObject o;
        try
        {
            o = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new InvalidDataException($"{configPath}: not a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{configPath}: not valid JSON ({ex.Message}).", ex);
        }

        if (o["peft_type"]?.GetValue<string>() is { } type && type != "LORA")
        {
            throw new InvalidDataException($"{configPath}: peft_type '{type}' is not supported (only LORA).");
        }

        return new LoraConfig
        {
            Rank = o["r"]?.GetValue<int>() ?? throw new InvalidDataException($"{configPath}: missing \"r\"."),
            Alpha = (float)(o["lora_alpha"]?.GetValue<double>() ?? 8.0),
            Dropout = (float)(o["lora_dropout"]?.GetValue<double>() ?? 0.0),
            TargetModules = o["target_modules"] is JsonArray arr ? arr.Select(n => n!.GetValue<string>()).ToList() : throw new InvalidDataException($"{configPath}: target_modules must be a list."),
        };
    }

    /// <summary>
    /// The adapter tensors of a PEFT folder, each with its name in the file and in the model (PEFT's
    /// <c>base_model.model.</c> prefix and <c>.default</c> adapter name removed). The caller disposes them.
    /// </summary>
    public static IEnumerable<(string Name, string ModelName, ManagedTensor Tensor)> ReadTensors(string directory)
    {
        using var reader = new SafeTensorsReader(Path.Combine(directory, "adapter_model.safetensors"));
        foreach (string name in reader.Names)
        {
            string local = name.StartsWith(Prefix, StringComparison.Ordinal) ? name[Prefix.Length..] : name;
            local = local.Replace(".lora_A.default.", ".lora_A.", StringComparison.Ordinal).Replace(".lora_B.default.", ".lora_B.", StringComparison.Ordinal);
            yield return (name, local, reader.ReadTensor(name));
        }
    }

    /// <summary>Whether the last segment of the module name <paramref name="name"/> is one of <paramref name="config"/>'s targets.</summary>
    public static bool IsTarget(string name, LoraConfig config) => config.TargetModules.Contains(name[(name.LastIndexOf('.') + 1)..]);

    private static IEnumerable<(string Name, LinearLayer Layer)> Targets(DecoderLM model, LoraConfig config) =>
        model.named_modules()
            .Where(m => m.NeuralModule is LinearLayer && IsTarget(m.Name, config))
            .Select(m => (m.Name, (LinearLayer)m.NeuralModule));
}
