using CalRec.Data;

namespace CalRec.Recommenders.Grounding;

/// <summary>
/// A collaborative model's scores (for example SASRec's) as BIGRec's re-weighting signal C, mapped onto another
/// model's catalogue by item id: items the collaborative model does not know get its lowest score for the user.
/// </summary>
internal sealed class CollaborativeScores
{
    private readonly RecommenderModel _model;
    private readonly int[] _toModel;
    private readonly float[] _buffer;

    public CollaborativeScores(RecommenderModel model, IReadOnlyList<CatalogItem> catalogue)
    {
        _model = model;
        _toModel = catalogue.Select(i => model.IndexOf(i.Id) ?? -1).ToArray();
        if (_toModel.All(j => j < 0))
        {
            throw new ArgumentException($"The collaborative '{model.Kind}' model shares no item id with the catalogue being grounded.");
        }

        _buffer = new float[model.ItemCount];
    }

    /// <summary>Writes C for every catalogue item given a history of catalogue indices.</summary>
    public void Fill(int[] history, Span<float> signal)
    {
        int[] mapped = history.Where(i => (uint)i < (uint)_toModel.Length && _toModel[i] >= 0).Select(i => _toModel[i]).ToArray();
        _model.Score([mapped], _buffer);
        float min = float.PositiveInfinity;
        for (int i = 0; i < _toModel.Length; i++)
        {
            float s = _toModel[i] >= 0 ? _buffer[_toModel[i]] : float.NaN;
            signal[i] = s;
            if (float.IsFinite(s))
            {
                min = Math.Min(min, s);
            }
        }

        float fill = float.IsFinite(min) ? min : 0f;
        for (int i = 0; i < signal.Length; i++)
        {
            if (!float.IsFinite(signal[i]))
            {
                signal[i] = fill;
            }
        }
    }
}
