namespace CalRec.Text.Tokenization;

/// <summary>
/// The special tokens every tokenizer this project trains carries, in this order (ids 0, 1, 2): the end of a document,
/// the separator that ends each item of a serialized history, and padding.
/// </summary>
public static class SpecialTokens
{
    /// <summary>Ends a document; the decoder's end-of-sequence token.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>Ends every item of a serialized history (<c>item₁ &lt;|item|&gt; item₂ &lt;|item|&gt; ...</c>).</summary>
    public const string ItemSeparator = "<|item|>";

    /// <summary>Pads batched sequences to a common length.</summary>
    public const string Pad = "<|pad|>";

    /// <summary>The three tokens in id order, for training a tokenizer.</summary>
    public static IReadOnlyList<string> All { get; } = [EndOfText, ItemSeparator, Pad];
}
