using CalRec.Recommenders;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet;

/// <summary>
/// Row-by-row recommendations for a history table (PredictionEngine's path): each output row scores its input row's
/// history once, on first read of an output column, with a single-user <see cref="Recommender"/> that reuses its buffers
/// (so a mapped row is not thread-safe, as a PredictionEngine is not).
/// </summary>
internal sealed class RecommendationRowMapper : IRowToRowMapper
{
    private readonly SequentialRecommendationTransformer _parent;

    internal RecommendationRowMapper(SequentialRecommendationTransformer parent, DataViewSchema inputSchema, DataViewSchema outputSchema)
    {
        _parent = parent;
        InputSchema = inputSchema;
        OutputSchema = outputSchema;
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var result = new List<DataViewSchema.Column>();
        foreach (DataViewSchema.Column c in dependingColumns)
        {
            result.Add(c.Index < InputSchema.Count ? InputSchema[c.Index] : _parent.HistoryColumn(InputSchema));
        }

        return result.DistinctBy(c => c.Index);
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) => new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class Row : DataViewRow
    {
        private readonly RecommendationRowMapper _mapper;
        private readonly DataViewRow _input;
        private readonly HashSet<int> _active;
        private readonly Recommender _recommender;
        private readonly ValueGetter<VBuffer<ReadOnlyMemory<char>>> _getHistory;
        private VBuffer<ReadOnlyMemory<char>> _history;
        private IReadOnlyList<ScoredItem> _items = [];
        private long _scoredPosition = -1;
        private string[] _lastHistory = [];

        internal Row(RecommendationRowMapper mapper, DataViewRow input, HashSet<int> active)
        {
            _mapper = mapper;
            _input = input;
            _active = active;
            _recommender = mapper._parent.CreateRecommender();
            _getHistory = input.GetGetter<VBuffer<ReadOnlyMemory<char>>>(mapper._parent.HistoryColumn(input.Schema));
        }

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override DataViewSchema Schema => _mapper.OutputSchema;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int inputCount = _mapper.InputSchema.Count;
            if (column.Index < inputCount)
            {
                return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            }

            return RecommendationValues.Getter<TValue>(column, ids: column.Index == inputCount, Current);
        }

        // Scores the input row once per position (PredictionEngine reuses one row object for every call: its position
        // does not change, so a fresh request is recognised by the history itself).
        private IReadOnlyList<ScoredItem> Current()
        {
            _getHistory(ref _history);
            string[] history = RecommendationValues.Strings(_history);
            if (_scoredPosition != _input.Position || !history.AsSpan().SequenceEqual(_lastHistory))
            {
                RecommendationColumns c = _mapper._parent.Columns;
                _items = _recommender.Recommend(history, c.TopK, c.ExcludeSeen);
                _lastHistory = history;
                _scoredPosition = _input.Position;
            }

            return _items;
        }
    }
}
