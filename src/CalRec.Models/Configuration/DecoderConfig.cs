using System.Text.Json;
using System.Text.Json.Nodes;

namespace CalRec.Models.Configuration;

/// <summary>Decoder families the model code implements.</summary>
public enum DecoderArchitecture
{
    /// <summary>RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention (Llama; Qwen2 adds q/k/v biases).</summary>
    Llama,

    /// <summary>LayerNorm, learned positions, GELU MLP, fused qkv projection, tied embeddings (GPT-2).</summary>
    Gpt2,
}

/// <summary>
/// Shape and numerics of a decoder LM, read from and written to a Hugging Face <c>config.json</c>
/// (Llama/Qwen2 keys, or GPT-2's <c>n_embd</c>/<c>n_layer</c>/<c>n_head</c>/<c>n_positions</c>).
/// </summary>
public sealed record DecoderConfig
{
    /// <summary>Model family.</summary>
    public DecoderArchitecture Architecture { get; init; } = DecoderArchitecture.Llama;

    /// <summary>Hugging Face <c>model_type</c> ("llama", "qwen2", "gpt2").</summary>
    public string ModelType { get; init; } = "llama";

    /// <summary>
    /// The last name component of every linear layer inside a block of this architecture (the names PEFT's
    /// <c>target_modules</c> uses): q/k/v/o and gate/up/down projections for Llama and Qwen2, <c>c_attn</c>,
    /// <c>c_proj</c> and <c>c_fc</c> for GPT-2.
    /// </summary>
    public IReadOnlyList<string> LinearModuleNames => Architecture == DecoderArchitecture.Gpt2
        ? ["c_attn", "c_proj", "c_fc"]
        : ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    /// <summary>Number of token ids.</summary>
    public int VocabSize { get; init; } = 8192;

    /// <summary>Width of the residual stream.</summary>
    public int HiddenSize { get; init; } = 256;

    /// <summary>Number of transformer blocks.</summary>
    public int NumLayers { get; init; } = 4;

    /// <summary>Query heads.</summary>
    public int NumHeads { get; init; } = 4;

    /// <summary>Key/value heads (fewer than query heads for grouped-query attention).</summary>
    public int NumKeyValueHeads { get; init; } = 4;

    /// <summary>Inner width of the MLP.</summary>
    public int IntermediateSize { get; init; } = 1024;

    /// <summary>Longest sequence (positions table size for GPT-2; a soft limit for rotary models).</summary>
    public int MaxPositions { get; init; } = 512;

    /// <summary>Normalization epsilon.</summary>
    public float NormEps { get; init; } = 1e-5f;

    /// <summary>Rotary base.</summary>
    public float RopeTheta { get; init; } = 10000f;

    /// <summary>Whether the output projection reuses the token embedding.</summary>
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>Whether q/k/v projections have biases (Qwen2).</summary>
    public bool AttentionBias { get; init; }

    /// <summary>Dropout on embeddings and residual branches while training.</summary>
    public float Dropout { get; init; }

    /// <summary>Standard deviation of the initial weights.</summary>
    public float InitializerRange { get; init; } = 0.02f;

    /// <summary>Id of the beginning-of-sequence token, if any.</summary>
    public int? BosTokenId { get; init; }

    /// <summary>Id of the end-of-sequence token, if any.</summary>
    public int? EosTokenId { get; init; }

    /// <summary>Dimension of one attention head.</summary>
    public int HeadDim => HiddenSize / NumHeads;

    /// <summary>Throws <see cref="InvalidDataException"/> when the numbers cannot describe a model.</summary>
    public DecoderConfig Validate(string source = "config")
    {
        void Require(bool ok, string what)
        {
            if (!ok)
            {
                throw new InvalidDataException($"{source}: {what}.");
            }
        }

        Require(VocabSize > 0 && HiddenSize > 0 && NumLayers > 0 && NumHeads > 0 && IntermediateSize > 0 && MaxPositions > 0,
            "vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size and max positions must be positive");
        Require(HiddenSize % NumHeads == 0, $"hidden_size {HiddenSize} is not divisible by num_attention_heads {NumHeads}");
        Require(NumKeyValueHeads > 0 && NumHeads % NumKeyValueHeads == 0, $"num_attention_heads {NumHeads} is not a multiple of num_key_value_heads {NumKeyValueHeads}");
        Require(Architecture != DecoderArchitecture.Llama || HeadDim % 2 == 0, $"head dimension {HeadDim} must be even for rotary embeddings");
        Require(Architecture != DecoderArchitecture.Gpt2 || NumKeyValueHeads == NumHeads, "GPT-2 has no grouped-query attention");
        Require(Dropout is >= 0f and < 1f, $"dropout {Dropout} must be in [0, 1)");
        return this;
    }

    /// <summary>Approximate parameter count (embeddings included once when tied).</summary>
    public long ParameterCount()
    {
        long d = HiddenSize, kv = (long)NumKeyValueHeads * HeadDim;
        long embed = (long)VocabSize * d;
        long perLayer = Architecture == DecoderArchitecture.Gpt2
            ? (4 * d) + (3 * d * d) + (3 * d) + (d * d) + d + (2 * d * IntermediateSize) + IntermediateSize + d
            : (2 * d) + (d * d) + (2 * d * kv) + (d * d) + (3 * d * IntermediateSize) + (AttentionBias ? d + (2 * kv) : 0);
        long positions = Architecture == DecoderArchitecture.Gpt2 ? (long)MaxPositions * d : 0;
        long final = Architecture == DecoderArchitecture.Gpt2 ? 2 * d : d;
        return embed + positions + (NumLayers * perLayer) + final + (TieWordEmbeddings ? 0 : embed);
    }

    /// <summary>Reads a Hugging Face <c>config.json</c>.</summary>
    public static DecoderConfig Load(string path)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({ex.Message}).", ex);
        }

        return FromJson(node as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object."), path);
    }

    /// <summary>Parses the keys of a Hugging Face config object.</summary>
    public static DecoderConfig FromJson(JsonObject o, string source = "config")
    {
        string modelType = o["model_type"]?.GetValue<string>() ?? InferType(o);
        int Int(string key, int fallback) => o[key] is JsonValue v && v.TryGetValue(out int i) ? i : fallback;
        float Float(string key, float fallback) => o[key] is JsonValue v && v.TryGetValue(out double d) ? (float)d : fallback;
        bool Bool(string key, bool fallback) => o[key] is JsonValue v && v.TryGetValue(out bool b) ? b : fallback;
        int? OptInt(string key) => o[key] is JsonValue v && v.TryGetValue(out int i) ? i : null;
        int Required(string key, params string[] alternatives)
        {
            foreach (string k in (string[])[key, .. alternatives])
            {
                if (o[k] is JsonValue v && v.TryGetValue(out int i))
                {
                    return i;
                }
            }

            throw new InvalidDataException($"{source}: missing integer \"{key}\".");
        }

        DecoderConfig config;
        switch (modelType)
        {
            case "gpt2":
                int d = Required("n_embd", "hidden_size");
                int heads = Required("n_head", "num_attention_heads");
                config = new DecoderConfig
                {
                    Architecture = DecoderArchitecture.Gpt2,
                    ModelType = "gpt2",
                    VocabSize = Required("vocab_size"),
                    HiddenSize = d,
                    NumLayers = Required("n_layer", "num_hidden_layers"),
                    NumHeads = heads,
                    NumKeyValueHeads = heads,
                    IntermediateSize = o["n_inner"] is JsonValue ni && ni.TryGetValue(out int inner) ? inner : 4 * d,
                    MaxPositions = Required("n_positions", "max_position_embeddings"),
                    NormEps = Float("layer_norm_epsilon", 1e-5f),
                    TieWordEmbeddings = Bool("tie_word_embeddings", true),
                    Dropout = Float("resid_pdrop", 0f),
                    InitializerRange = Float("initializer_range", 0.02f),
                    BosTokenId = OptInt("bos_token_id"),
                    EosTokenId = OptInt("eos_token_id"),
                };
                break;
            case "llama":
            case "qwen2":
            case "mistral":
                int h = Required("num_attention_heads");
                config = new DecoderConfig
                {
                    Architecture = DecoderArchitecture.Llama,
                    ModelType = modelType,
                    VocabSize = Required("vocab_size"),
                    HiddenSize = Required("hidden_size"),
                    NumLayers = Required("num_hidden_layers"),
                    NumHeads = h,
                    NumKeyValueHeads = Int("num_key_value_heads", h),
                    IntermediateSize = Required("intermediate_size"),
                    MaxPositions = Int("max_position_embeddings", 2048),
                    NormEps = Float("rms_norm_eps", 1e-6f),
                    RopeTheta = Float("rope_theta", 10000f),
                    TieWordEmbeddings = Bool("tie_word_embeddings", false),
                    AttentionBias = modelType == "qwen2" || Bool("attention_bias", false),
                    Dropout = Float("attention_dropout", 0f),
                    InitializerRange = Float("initializer_range", 0.02f),
                    BosTokenId = OptInt("bos_token_id"),
                    EosTokenId = OptInt("eos_token_id"),
                };
                if (o["head_dim"] is JsonValue hd && hd.TryGetValue(out int headDim) && headDim != config.HiddenSize / h)
                {
                    throw new InvalidDataException($"{source}: head_dim {headDim} differs from hidden_size / num_attention_heads; not supported.");
                }

                if (o["rope_scaling"] is JsonObject)
                {
                    throw new InvalidDataException($"{source}: rope_scaling is not supported.");
                }

                break;
            default:
                throw new InvalidDataException($"{source}: model_type '{modelType}' is not supported (llama, qwen2, mistral, gpt2).");
        }

        return config.Validate(source);
    }

    /// <summary>Writes the Hugging Face keys for this configuration.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject();
        if (Architecture == DecoderArchitecture.Gpt2)
        {
            o["architectures"] = new JsonArray("GPT2LMHeadModel");
            o["model_type"] = "gpt2";
            o["vocab_size"] = VocabSize;
            o["n_embd"] = HiddenSize;
            o["n_layer"] = NumLayers;
            o["n_head"] = NumHeads;
            o["n_inner"] = IntermediateSize;
            o["n_positions"] = MaxPositions;
            o["n_ctx"] = MaxPositions;
            o["layer_norm_epsilon"] = NormEps;
            o["activation_function"] = "gelu_new";
            o["resid_pdrop"] = Dropout;
            o["embd_pdrop"] = Dropout;
            o["attn_pdrop"] = 0f;
            o["tie_word_embeddings"] = true;
        }
        else
        {
            o["architectures"] = new JsonArray(ModelType == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
            o["model_type"] = ModelType;
            o["vocab_size"] = VocabSize;
            o["hidden_size"] = HiddenSize;
            o["num_hidden_layers"] = NumLayers;
            o["num_attention_heads"] = NumHeads;
            o["num_key_value_heads"] = NumKeyValueHeads;
            o["intermediate_size"] = IntermediateSize;
            o["max_position_embeddings"] = MaxPositions;
            o["rms_norm_eps"] = NormEps;
            o["rope_theta"] = RopeTheta;
            o["hidden_act"] = "silu";
            o["tie_word_embeddings"] = TieWordEmbeddings;
            if (ModelType != "qwen2")
            {
                o["attention_bias"] = AttentionBias;
            }

            if (Dropout > 0)
            {
                // Read back as this configuration's dropout (see FromJson); absent, as in most checkpoints, it is 0.
                o["attention_dropout"] = Dropout;
            }
        }

        o["initializer_range"] = InitializerRange;
        o["torch_dtype"] = "float32";
        if (BosTokenId is int bos)
        {
            o["bos_token_id"] = bos;
        }

        if (EosTokenId is int eos)
        {
            o["eos_token_id"] = eos;
        }

        return o;
    }

    /// <summary>Writes <c>config.json</c> atomically.</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        string tmp = full + $".tmp-{Guid.NewGuid():N}";
        File.WriteAllText(tmp, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, full, overwrite: true);
    }

    private static string InferType(JsonObject o) => o["n_embd"] is not null ? "gpt2" : "llama";
}
