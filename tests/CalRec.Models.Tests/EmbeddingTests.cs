using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Text.Tokenization;

namespace CalRec.Models.Tests;

[TestFixture]
public class EmbeddingTests
{
    private static readonly string[] Texts = ["gentle cleanser", "a much longer title about a hydrating night cream", "toner", "gentle cleanser"];

    private static (DecoderLM, ByteLevelBpeTokenizer) Setup()
    {
        ByteLevelBpeTokenizer tok = ByteLevelBpeTokenizer.Train(Texts, new BpeTrainerOptions { VocabularySize = 300, SpecialTokens = ["<|endoftext|>", "<|pad|>"] });
        var model = new DecoderLM(DecoderTests.Llama with { VocabSize = tok.VocabularySize }, seed: 2);
        return (model, tok);
    }

    [TestCase(Pooling.Mean)]
    [TestCase(Pooling.LastToken)]
    public void BatchedEmbeddingsEqualOneAtATimeAndAreNormalized(Pooling pooling)
    {
        (DecoderLM model, ByteLevelBpeTokenizer tok) = Setup();
        float[] batched = new LanguageModelEmbedder(model, tok, pooling, batchSize: 4).Encode(Texts);
        float[] single = new LanguageModelEmbedder(model, tok, pooling, batchSize: 1).Encode(Texts);
        Assert.That(batched, Is.EqualTo(single).Within(1e-5), "padding must not change a text's embedding");
        int d = model.Config.HiddenSize;
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.That(System.Numerics.Tensors.TensorPrimitives.Norm(batched.AsSpan(i * d, d)), Is.EqualTo(1f).Within(1e-5));
        }

        Assert.That(batched.AsSpan(0, d).ToArray(), Is.EqualTo(batched.AsSpan(3 * d, d).ToArray()), "same text, same vector");
    }

    [Test]
    public void PoolingMatchesItsDefinition()
    {
        (DecoderLM model, ByteLevelBpeTokenizer tok) = Setup();
        int[] ids = [.. tok.EncodeToIds(Texts[1])];
        float[] hidden;
        using (TensorScope.Begin())
        using (Tape.no_grad())
        {
            model.eval();
            hidden = model.Hidden(ids, 1, ids.Length).ToArray();
        }

        int d = model.Config.HiddenSize;
        float[] mean = new float[d];
        for (int t = 0; t < ids.Length; t++)
        {
            for (int j = 0; j < d; j++)
            {
                mean[j] += hidden[(t * d) + j] / ids.Length;
            }
        }

        Assert.That(new LanguageModelEmbedder(model, tok, Pooling.Mean, normalize: false).Encode([Texts[1]]), Is.EqualTo(mean).Within(1e-5));
        Assert.That(new LanguageModelEmbedder(model, tok, Pooling.LastToken, normalize: false).Encode([Texts[1]]), Is.EqualTo(hidden[^d..]).Within(1e-6));
    }
}

[TestFixture]
public class CachingTextEncoderTests
{
    private sealed class CountingEncoder : ITextEncoder
    {
        public List<string> Seen { get; } = [];

        public int Dimension => 2;

        public float[] Encode(IReadOnlyList<string> texts, CancellationToken cancellation = default)
        {
            Seen.AddRange(texts);
            return texts.SelectMany(t => new[] { t.Length, (float)t[0] }).ToArray();
        }
    }

    [Test]
    public void EachDistinctTextIsEncodedOnceAndRowsKeepTheirOrder()
    {
        var inner = new CountingEncoder();
        var cached = new CachingTextEncoder(inner);
        string[] first = ["apple", "kiwi", "apple"], second = ["kiwi", "plum"];

        Assert.That(cached.Encode(first), Is.EqualTo(new CountingEncoder().Encode(first)));
        Assert.That(cached.Encode(second), Is.EqualTo(new CountingEncoder().Encode(second)));
        Assert.That(inner.Seen, Is.EqualTo(new[] { "apple", "kiwi", "plum" }));
        Assert.That(cached.Dimension, Is.EqualTo(2));
    }
}
