using CalRec.Models.Generation;

namespace CalRec.Recommenders.Grounding;

/// <summary>
/// Decoding from an item-ID hybrid as it was trained: right after an item separator the next token is an identity token
/// (a softmax over the identity tokens alone), anywhere else a text token (a softmax over the text vocabulary). Wraps a
/// step model and masks the other range of every row's logits.
/// </summary>
/// <param name="inner">The backbone's step model.</param>
/// <param name="separator">The item separator's id.</param>
/// <param name="identityBase">The first identity id (the text vocabulary ends before it).</param>
internal sealed class IdentityStepModel(IStepModel inner, int separator, int identityBase) : IStepModel
{
    private int[] _last = [];

    public int VocabularySize => inner.VocabularySize;

    public float[] Start(IReadOnlyList<int[]> prompts)
    {
        _last = prompts.Select(p => p.Length > 0 ? p[^1] : -1).ToArray();
        return Mask(inner.Start(prompts));
    }

    public float[] Step(int[] tokens)
    {
        _last = (int[])tokens.Clone();
        return Mask(inner.Step(tokens));
    }

    public void Reorder(IReadOnlyList<int> sources)
    {
        inner.Reorder(sources);
        _last = sources.Select(s => _last[s]).ToArray();
    }

    private float[] Mask(float[] logits)
    {
        int v = VocabularySize;
        for (int r = 0; r < _last.Length; r++)
        {
            Span<float> row = logits.AsSpan(r * v, v);
            (_last[r] == separator ? row[..identityBase] : row[identityBase..]).Fill(float.NegativeInfinity);
        }

        return logits;
    }
}
