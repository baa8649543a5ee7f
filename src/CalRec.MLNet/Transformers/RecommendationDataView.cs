using CalRec.Recommenders;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet;

/// <summary>
/// The lazy output of <see cref="SequentialRecommendationTransformer.Transform"/>. A cursor that needs the outputs reads
/// the source twice in step: a look-ahead cursor over the history column fills a block of
/// <see cref="SequentialRecommendationTransformer.BlockSize"/> users and scores it in one batch, and the main cursor
/// serves the passed-through columns row by row. Memory is one block, whatever the table's length.
/// </summary>
internal sealed class RecommendationDataView : IDataView
{
    private readonly SequentialRecommendationTransformer _parent;
    private readonly IDataView _source;

    internal RecommendationDataView(SequentialRecommendationTransformer parent, IDataView source, DataViewSchema schema)
    {
        _parent = parent;
        _source = source;
        Schema = schema;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        int sourceCount = _source.Schema.Count;
        var needed = columnsNeeded.ToList();
        var sourceNeeded = needed.Where(c => c.Index < sourceCount).Select(c => _source.Schema[c.Index]).ToList();
        bool outputs = needed.Any(c => c.Index >= sourceCount);
        DataViewRowCursor main = _source.GetRowCursor(sourceNeeded);
        if (!outputs)
        {
            return new Cursor(this, main, null, null);
        }

        DataViewSchema.Column history = _parent.HistoryColumn(_source.Schema);
        DataViewSchema.Column? user = _source.Schema.GetColumnOrNull(_parent.Columns.UserIdColumnName) is { Type: TextDataViewType } u ? u : null;
        DataViewRowCursor ahead = _source.GetRowCursor(user is { } uc ? [history, uc] : [history]);
        return new Cursor(this, main, ahead, user);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly RecommendationDataView _view;
        private readonly DataViewRowCursor _main;
        private readonly DataViewRowCursor? _ahead;
        private readonly ValueGetter<VBuffer<ReadOnlyMemory<char>>>? _getHistory;
        private readonly ValueGetter<ReadOnlyMemory<char>>? _getUser;
        private readonly int _sourceCount;
        private readonly List<UserHistory> _pending = new(SequentialRecommendationTransformer.BlockSize);
        private readonly BlockRecommender? _scorer;
        private List<Recommendation> _block = [];
        private int _inBlock = -1;
        private VBuffer<ReadOnlyMemory<char>> _history;
        private ReadOnlyMemory<char> _user;

        internal Cursor(RecommendationDataView view, DataViewRowCursor main, DataViewRowCursor? ahead, DataViewSchema.Column? user)
        {
            _view = view;
            _main = main;
            _ahead = ahead;
            _sourceCount = view._source.Schema.Count;
            if (ahead is not null)
            {
                _getHistory = ahead.GetGetter<VBuffer<ReadOnlyMemory<char>>>(view._parent.HistoryColumn(view._source.Schema));
                _getUser = user is { } u ? ahead.GetGetter<ReadOnlyMemory<char>>(u) : null;
                _scorer = view._parent.CreateBlockRecommender();
            }
        }

        public override long Position => _main.Position;

        public override long Batch => _main.Batch;

        public override DataViewSchema Schema => _view.Schema;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _main.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index < _sourceCount ? _main.IsColumnActive(_view._source.Schema[column.Index]) : _ahead is not null;

        public override bool MoveNext()
        {
            if (!_main.MoveNext())
            {
                return false;
            }

            if (_ahead is not null && ++_inBlock >= _block.Count)
            {
                Fill();
            }

            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _sourceCount)
            {
                return _main.GetGetter<TValue>(_view._source.Schema[column.Index]);
            }

            if (_ahead is null)
            {
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was made.");
            }

            return RecommendationValues.Getter<TValue>(column, ids: column.Index == _sourceCount, () => _block[_inBlock].Items);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _main.Dispose();
                _ahead?.Dispose();
            }

            base.Dispose(disposing);
        }

        // Reads the next block of histories ahead of the main cursor and scores it in one batch.
        private void Fill()
        {
            _pending.Clear();
            while (_pending.Count < SequentialRecommendationTransformer.BlockSize && _ahead!.MoveNext())
            {
                _getHistory!(ref _history);
                string user = _getUser is null ? $"row {_ahead.Position + 1}" : ReadUser();
                _pending.Add(new UserHistory(user, RecommendationValues.Strings(_history)));
            }

            _block = _scorer!.Recommend(_pending);
            _inBlock = 0;
        }

        private string ReadUser()
        {
            _getUser!(ref _user);
            return _user.ToString();
        }
    }
}

/// <summary>Conversions between ML.NET's vector buffers and the library's lists.</summary>
internal static class RecommendationValues
{
    /// <summary>The strings of a text vector (dense or sparse; absent entries are empty strings).</summary>
    internal static string[] Strings(in VBuffer<ReadOnlyMemory<char>> vector)
    {
        var result = new string[vector.Length];
        int k = 0;
        foreach (ReadOnlyMemory<char> s in vector.DenseValues())
        {
            result[k++] = s.ToString();
        }

        return result;
    }

    /// <summary>
    /// The getter of an output column: the item ids (<paramref name="ids"/>) or the scores of the current row's
    /// recommendations, which <paramref name="current"/> returns. Asking for another value type is an error naming the column.
    /// </summary>
    internal static ValueGetter<TValue> Getter<TValue>(DataViewSchema.Column column, bool ids, Func<IReadOnlyList<ScoredItem>> current)
    {
        Delegate getter = ids
            ? (ValueGetter<VBuffer<ReadOnlyMemory<char>>>)((ref VBuffer<ReadOnlyMemory<char>> value) => Ids(current(), ref value))
            : (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) => Scores(current(), ref value));
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Column '{column.Name}' is a {(ids ? "vector of text (string[])" : "vector of float (float[])")}, not {typeof(TValue).Name}.");
    }

    /// <summary>Writes the item ids of <paramref name="items"/> into <paramref name="value"/>, reusing its buffers.</summary>
    internal static void Ids(IReadOnlyList<ScoredItem> items, ref VBuffer<ReadOnlyMemory<char>> value)
    {
        var editor = VBufferEditor.Create(ref value, items.Count);
        for (int i = 0; i < items.Count; i++)
        {
            editor.Values[i] = items[i].ItemId.AsMemory();
        }

        value = editor.Commit();
    }

    /// <summary>Writes the scores of <paramref name="items"/> into <paramref name="value"/>, reusing its buffers.</summary>
    internal static void Scores(IReadOnlyList<ScoredItem> items, ref VBuffer<float> value)
    {
        var editor = VBufferEditor.Create(ref value, items.Count);
        for (int i = 0; i < items.Count; i++)
        {
            editor.Values[i] = items[i].Score;
        }

        value = editor.Commit();
    }
}
