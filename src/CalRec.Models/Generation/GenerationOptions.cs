namespace CalRec.Models.Generation;

/// <summary>How the next token is chosen.</summary>
public enum DecodingStrategy
{
    /// <summary>Most probable token each step.</summary>
    Greedy,

    /// <summary>Beam search keeping the best partial sequences.</summary>
    BeamSearch,

    /// <summary>Random draws with temperature, top-k and top-p (nucleus) filtering.</summary>
    Sampling,
}

/// <summary>Settings for <see cref="SequenceGenerator.Generate"/>.</summary>
public sealed record GenerationOptions
{
    /// <summary>Decoding strategy.</summary>
    public DecodingStrategy Strategy { get; init; } = DecodingStrategy.Greedy;

    /// <summary>Most tokens to generate.</summary>
    public int MaxNewTokens { get; init; } = 32;

    /// <summary>Beams kept by beam search.</summary>
    public int NumBeams { get; init; } = 4;

    /// <summary>Beam scores are log-probability / length^LengthPenalty.</summary>
    public float LengthPenalty { get; init; } = 1f;

    /// <summary>Sequences returned per prompt (at most NumBeams for beam search).</summary>
    public int NumReturnSequences { get; init; } = 1;

    /// <summary>Sampling temperature.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep only the k most probable tokens when sampling (0: all).</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of tokens whose probability reaches p when sampling (1: all).</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Seed for sampling.</summary>
    public ulong Seed { get; init; }

    /// <summary>Token ids that end a sequence (not included in the output).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Texts that end a sequence when generated (cut from the returned text).</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];
}

/// <summary>One generated continuation.</summary>
/// <param name="TokenIds">Generated ids only (no prompt, no stop token).</param>
/// <param name="Text">Decoded text, cut at a stop sequence.</param>
/// <param name="LogProb">Sum of the model's log-probabilities of the generated tokens (temperature 1).</param>
public sealed record GeneratedSequence(int[] TokenIds, string Text, double LogProb);
