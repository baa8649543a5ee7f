using System.Text.Json.Nodes;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.Serialization;
using CalRec.Text.Tokenization;

namespace CalRec.Models.Checkpoints;

/// <summary>
/// Reads and writes a model folder in Hugging Face layout: <c>config.json</c>, <c>model.safetensors</c> (or shards listed
/// in <c>model.safetensors.index.json</c>) and <c>tokenizer.json</c>. Parameter names are Hugging Face's, so folders
/// written here open in Python transformers and the other way round.
/// </summary>
public static class HuggingFaceCheckpoint
{
    /// <summary>
    /// Writes the model (and tokenizer, when given) into <paramref name="directory"/>. Files are written into a
    /// temporary folder first and swapped into place, so an interrupted save never leaves a half-written model.
    /// </summary>
    public static void Save(DecoderLM model, ByteLevelBpeTokenizer? tokenizer, string directory) =>
        AtomicDirectory.Write(directory, tmp => WriteFiles(model, tokenizer, tmp));

    /// <summary>Writes config.json, model.safetensors and (when given) tokenizer.json into an existing folder.</summary>
    public static void WriteFiles(DecoderLM model, ByteLevelBpeTokenizer? tokenizer, string folder)
    {
        model.Config.Save(Path.Combine(folder, "config.json"));
        var tensors = new Dictionary<string, ManagedTensor>(StringComparer.Ordinal);
        var owned = new List<ManagedTensor>();
        foreach ((string name, ManagedTensor p) in model.named_parameters())
        {
            if (model.Config.Architecture == DecoderArchitecture.Gpt2 && IsConv1D(name))
            {
                ManagedTensor tr = Transpose(p);
                owned.Add(tr);
                tensors[name] = tr;
            }
            else
            {
                tensors[name] = p;
            }
        }

        SafeTensorsWriter.Save(Path.Combine(folder, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        owned.ForEach(t => t.Dispose());
        tokenizer?.Save(Path.Combine(folder, "tokenizer.json"));
    }

    /// <summary>
    /// Loads a model folder that must carry its tokenizer (every use that encodes text); a folder without
    /// <c>tokenizer.json</c> is a <see cref="FileNotFoundException"/> naming it.
    /// </summary>
    public static (DecoderLM Model, ByteLevelBpeTokenizer Tokenizer) LoadWithTokenizer(string directory)
    {
        (DecoderLM model, ByteLevelBpeTokenizer? tokenizer) = Load(directory);
        return (model, tokenizer ?? throw new FileNotFoundException($"{directory}: no tokenizer.json next to the model (text needs the model's own tokenizer).", Path.Combine(directory, "tokenizer.json")));
    }

    /// <summary>
    /// Loads a model folder. Handles tied embeddings without <c>lm_head.weight</c>, Qwen2 biases, GPT-2 Conv1D weights
    /// stored [in, out], GPT-2 names with or without the <c>transformer.</c> prefix, and ignores GPT-2's
    /// <c>attn.bias</c>/<c>attn.masked_bias</c> buffers. A missing or misshapen tensor is an error naming it.
    /// </summary>
    public static (DecoderLM Model, ByteLevelBpeTokenizer? Tokenizer) Load(string directory)
    {
        string configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
        {
            throw new FileNotFoundException($"{directory}: no config.json (expected a Hugging Face model folder).", configPath);
        }

        DecoderConfig config = DecoderConfig.Load(configPath);
        var model = new DecoderLM(config);
        Dictionary<string, (SafeTensorsReader Reader, string Name)> index = OpenWeights(directory, config, out List<SafeTensorsReader> readers);
        try
        {
            foreach ((string name, ManagedTensor p) in model.named_parameters())
            {
                if (!index.TryGetValue(name, out var src))
                {
                    throw new InvalidDataException($"{directory}: tensor '{name}' is missing from the checkpoint.");
                }

                using ManagedTensor loaded = src.Reader.ReadTensor(src.Name);
                bool conv = config.Architecture == DecoderArchitecture.Gpt2 && IsConv1D(name);
                int[] expected = conv ? [p.shape[1], p.shape[0]] : p.shape.ToArray();
                if (!loaded.shape.SequenceEqual(expected))
                {
                    throw new InvalidDataException($"{directory}: tensor '{src.Name}' has shape {ManagedTensor.FormatShape(loaded.shape)}, expected {ManagedTensor.FormatShape(expected)}.");
                }

                if (conv)
                {
                    using ManagedTensor tr = Transpose(loaded);
                    tr.Data.CopyTo(p.Data);
                }
                else
                {
                    loaded.Data.CopyTo(p.Data);
                }
            }
        }
        finally
        {
            readers.ForEach(r => r.Dispose());
        }

        ByteLevelBpeTokenizer? tokenizer = null;
        string tokPath = Path.Combine(directory, "tokenizer.json");
        if (File.Exists(tokPath))
        {
            tokenizer = ByteLevelBpeTokenizer.FromFile(tokPath);
            if (tokenizer.VocabularySize > config.VocabSize)
            {
                throw new InvalidDataException($"{directory}: tokenizer has {tokenizer.VocabularySize} ids but the model's vocab_size is {config.VocabSize}.");
            }
        }

        return (model, tokenizer);
    }

    private static Dictionary<string, (SafeTensorsReader, string)> OpenWeights(string directory, DecoderConfig config, out List<SafeTensorsReader> readers)
    {
        readers = [];
        var files = new List<string>();
        string single = Path.Combine(directory, "model.safetensors");
        string indexPath = Path.Combine(directory, "model.safetensors.index.json");
        if (File.Exists(single))
        {
            files.Add(single);
        }
        else if (File.Exists(indexPath))
        {
            JsonObject idx = JsonNode.Parse(File.ReadAllText(indexPath)) as JsonObject ?? throw new InvalidDataException($"{indexPath}: not a JSON object.");
            JsonObject map = idx["weight_map"] as JsonObject ?? throw new InvalidDataException($"{indexPath}: no weight_map.");
            files.AddRange(map.Select(kv => kv.Value!.GetValue<string>()).Distinct().Order(StringComparer.Ordinal).Select(f => Path.Combine(directory, f)));
        }
        else
        {
            throw new FileNotFoundException($"{directory}: neither model.safetensors nor model.safetensors.index.json exists.");
        }

        var index = new Dictionary<string, (SafeTensorsReader, string)>(StringComparer.Ordinal);
        foreach (string f in files)
        {
            var r = new SafeTensorsReader(f);
            readers.Add(r);
            foreach (string name in r.Names)
            {
                string canonical = Canonical(name, config);
                if (canonical.EndsWith(".attn.bias", StringComparison.Ordinal) && config.Architecture == DecoderArchitecture.Gpt2
                    || canonical.EndsWith(".attn.masked_bias", StringComparison.Ordinal)
                    || canonical.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal))
                {
                    continue;
                }

                index[canonical] = (r, name);
            }
        }

        return index;
    }

    private static string Canonical(string name, DecoderConfig config)
    {
        if (config.Architecture == DecoderArchitecture.Gpt2 && !name.StartsWith("transformer.", StringComparison.Ordinal) && name != "lm_head.weight")
        {
            return "transformer." + name;
        }

        return name;
    }

    private static bool IsConv1D(string name) =>
        name.EndsWith(".weight", StringComparison.Ordinal)
        && (name.Contains(".attn.c_attn.", StringComparison.Ordinal) || name.Contains(".attn.c_proj.", StringComparison.Ordinal)
            || name.Contains(".mlp.c_fc.", StringComparison.Ordinal) || name.Contains(".mlp.c_proj.", StringComparison.Ordinal));

    private static ManagedTensor Transpose(ManagedTensor m)
    {
        int r = m.shape[0], c = m.shape[1];
        var t = ManagedTensor.zeros(c, r);
        ReadOnlySpan<float> src = m.Data;
        Span<float> dst = t.Data;
        for (int i = 0; i < r; i++)
        {
            for (int j = 0; j < c; j++)
            {
                dst[(j * r) + i] = src[(i * c) + j];
            }
        }

        return t;
    }
}
