namespace CalRec.Models.Configuration;

/// <summary>
/// Built-in Llama-style model sizes for training from scratch on CPU (the same shapes as the repository's
/// <c>models/*.json</c> files, plus <c>mini</c>, sized for finetuning a recommender in minutes).
/// </summary>
public static class DecoderPresets
{
    /// <summary>The preset names, smallest first.</summary>
    public static IReadOnlyList<string> Names { get; } = ["tiny", "mini", "small", "base"];

    /// <summary>The preset called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static DecoderConfig? Find(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => Llama(2048, 64, 2, 4, 2, 192, 256),
        "mini" => Llama(4096, 128, 2, 4, 2, 384, 512),
        "small" => Llama(8192, 256, 4, 4, 2, 768, 1024),
        "base" => Llama(16384, 512, 8, 8, 4, 1536, 2048),
        _ => null,
    };

    private static DecoderConfig Llama(int vocab, int hidden, int layers, int heads, int kvHeads, int intermediate, int positions) => new()
    {
        VocabSize = vocab,
        HiddenSize = hidden,
        NumLayers = layers,
        NumHeads = heads,
        NumKeyValueHeads = kvHeads,
        IntermediateSize = intermediate,
        MaxPositions = positions,
        NormEps = 1e-6f,
    };
}
