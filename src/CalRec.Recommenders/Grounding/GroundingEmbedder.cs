using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Models.Generation;
using CalRec.Recommenders.CalRec;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using F = CalRec.Tensors.Functional;

namespace CalRec.Recommenders.Grounding;

/// <summary>
/// The space BIGRec's embedding grounding compares generated texts and catalogue items in: a decoder backbone of the
/// model's own tokenizer (the finetuned one by default, or for example the stage-0 backbone), pooled like the towers;
/// or any pretrained <see cref="ITextEncoder"/> of texts (for example <see cref="MiniLmTextEncoder"/>, a general-purpose
/// sentence encoder), which embeds the generated texts and the rendered item texts as strings.
/// </summary>
public sealed class GroundingEmbedder
{
    private readonly DecoderLM? _backbone;
    private readonly ITextEncoder? _encoder;

    private GroundingEmbedder(DecoderLM? backbone, ITextEncoder? encoder) => (_backbone, _encoder) = (backbone, encoder);

    /// <summary>Embeds token ids with <paramref name="backbone"/>, which must share the model's tokenizer.</summary>
    public static GroundingEmbedder FromBackbone(DecoderLM backbone) => new(backbone ?? throw new ArgumentNullException(nameof(backbone)), null);

    /// <summary>Embeds texts with <paramref name="encoder"/> (generated texts as decoded, items as the model renders them).</summary>
    public static GroundingEmbedder FromTextEncoder(ITextEncoder encoder) => new(null, encoder ?? throw new ArgumentNullException(nameof(encoder)));

    /// <summary>The backbone, or null for a text encoder.</summary>
    public DecoderLM? Backbone => _backbone;

    /// <summary>The text encoder, or null for a backbone.</summary>
    public ITextEncoder? TextEncoder => _encoder;

    /// <summary>Throws when this space cannot serve <paramref name="model"/> (a backbone of another tokenizer).</summary>
    internal void Validate(CalRecModel model)
    {
        if (_backbone is not null && _backbone.Config.VocabSize != model.Backbone.Config.VocabSize)
        {
            throw new ArgumentException($"The embedding backbone has a vocabulary of {_backbone.Config.VocabSize} ids, the model's tokenizer {model.Backbone.Config.VocabSize}: "
                + "embedding grounding needs a backbone of the same tokenizer (for example the model's stage-0 backbone), or a text encoder.");
        }
    }

    /// <summary>Length of each vector.</summary>
    internal int Dimension => _backbone?.Config.HiddenSize ?? _encoder!.Dimension;

    /// <summary>Whether the vectors are the model's own saved item index (its backbone, pooled as its towers pool).</summary>
    internal bool IsModelIndex(CalRecModel model, Pooling pooling) => ReferenceEquals(_backbone, model.Backbone) && pooling == model.Settings.Pooling;

    /// <summary>Every catalogue item's vector, L2-normalized, row-major [items, Dimension].</summary>
    internal float[] Catalogue(CalRecModel model, Pooling pooling)
    {
        if (_backbone is not null)
        {
            return CalRecScorer.EncodeCatalogue(_backbone, model.Towers.Table, pooling);
        }

        return Normalized(_encoder!.Encode(model.Catalog.Select(i => ItemTextTable.Render(i, model.Settings.Template)).ToList()), _encoder.Dimension);
    }

    /// <summary>The generated texts' vectors, L2-normalized, row-major [texts, Dimension].</summary>
    internal float[] Generated(CalRecModel model, IReadOnlyList<GeneratedSequence> generated, Pooling pooling)
    {
        if (_encoder is not null)
        {
            return Normalized(_encoder.Encode(generated.Select(g => g.Text).ToList()), _encoder.Dimension);
        }

        using (_backbone!.EvalScope())
        {
            using TensorScope scope = TensorScope.Begin();
            using Tape.NoGradScope noGrad = Tape.no_grad();
            var texts = generated.Select(g => g.TokenIds.Take(model.Settings.MaxItemTokens).ToArray()).ToList();
            return F.l2_normalize(TwoTowerEncoder.EncodeTokens(_backbone, texts, model.Towers.Table, pooling)).Data.ToArray();
        }
    }

    private static float[] Normalized(float[] rows, int dimension)
    {
        for (int r = 0; r < rows.Length; r += dimension)
        {
            Span<float> row = rows.AsSpan(r, dimension);
            float norm = System.Numerics.Tensors.TensorPrimitives.Norm(row);
            if (norm > 0)
            {
                System.Numerics.Tensors.TensorPrimitives.Divide(row, norm, row);
            }
        }

        return rows;
    }
}
