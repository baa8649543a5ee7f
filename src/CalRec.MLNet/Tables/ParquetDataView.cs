using Microsoft.ML;
using Microsoft.ML.Data;
using Parquet;
using Parquet.Schema;

namespace CalRec.MLNet.Tables;

/// <summary>A lazy ML.NET table over a Parquet file: a cursor reads one row group at a time, only the active columns.</summary>
internal sealed class ParquetDataView : IDataView
{
    private readonly string _path;
    private readonly List<(DataField Field, bool IsList, DataViewType Type)> _columns;

    internal ParquetDataView(string path, DataViewSchema schema, List<(DataField Field, bool IsList, DataViewType Type)> columns)
    {
        _path = path;
        Schema = schema;
        _columns = columns;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ParquetDataView _view;
        private readonly HashSet<int> _active;
        private readonly FileStream _stream;
        private readonly ParquetReader _reader;
        private readonly Array?[] _values;
        private readonly int[]?[] _starts;
        private int _group = -1;
        private long _rowsInGroup;
        private long _inGroup;
        private long _position = -1;

        internal Cursor(ParquetDataView view, HashSet<int> active)
        {
            _view = view;
            _active = active;
            _stream = File.OpenRead(view._path);
            _reader = ParquetReader.CreateAsync(_stream).GetAwaiter().GetResult();
            _values = new Array?[view._columns.Count];
            _starts = new int[]?[view._columns.Count];
        }

        public override long Position => _position;

        public override long Batch => 0;

        public override DataViewSchema Schema => _view.Schema;

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override bool MoveNext()
        {
            while (_inGroup + 1 >= _rowsInGroup)
            {
                if (_group + 1 >= _reader.RowGroupCount)
                {
                    return false;
                }

                ReadGroup(++_group);
            }

            _inGroup++;
            _position++;
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int c = column.Index;
            (DataField _, bool isList, DataViewType type) = _view._columns[c];
            Delegate getter = (type is VectorDataViewType v ? v.ItemType : type) switch
            {
                TextDataViewType when isList => (ValueGetter<VBuffer<ReadOnlyMemory<char>>>)((ref VBuffer<ReadOnlyMemory<char>> value) => List<string, ReadOnlyMemory<char>>(c, ref value, s => s.AsMemory())),
                TextDataViewType => (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> value) => value = ((string[])_values[c]!)[_inGroup].AsMemory()),
                _ when isList => ListGetter(c, type),
                _ => ScalarGetter(c, type),
            };
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column '{column.Name}' is {ColumnReader.Describe(type)}, not {typeof(TValue).Name}.");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
                _stream.Dispose();
            }

            base.Dispose(disposing);
        }

        private Delegate ScalarGetter(int c, DataViewType type) => type switch
        {
            _ when type == NumberDataViewType.Single => (ValueGetter<float>)((ref float value) => value = ((float[])_values[c]!)[_inGroup]),
            _ when type == NumberDataViewType.Double => (ValueGetter<double>)((ref double value) => value = ((double[])_values[c]!)[_inGroup]),
            _ when type == NumberDataViewType.Int32 => (ValueGetter<int>)((ref int value) => value = ((int[])_values[c]!)[_inGroup]),
            _ => (ValueGetter<long>)((ref long value) => value = ((long[])_values[c]!)[_inGroup]),
        };

        private Delegate ListGetter(int c, DataViewType type) => ((VectorDataViewType)type).ItemType switch
        {
            var t when t == NumberDataViewType.Single => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) => List<float, float>(c, ref value, v => v)),
            var t when t == NumberDataViewType.Double => (ValueGetter<VBuffer<double>>)((ref VBuffer<double> value) => List<double, double>(c, ref value, v => v)),
            var t when t == NumberDataViewType.Int32 => (ValueGetter<VBuffer<int>>)((ref VBuffer<int> value) => List<int, int>(c, ref value, v => v)),
            _ => (ValueGetter<VBuffer<long>>)((ref VBuffer<long> value) => List<long, long>(c, ref value, v => v)),
        };

        private void List<TStored, T>(int c, ref VBuffer<T> value, Func<TStored, T> convert)
        {
            int[] starts = _starts[c]!;
            var values = (TStored[])_values[c]!;
            int start = starts[_inGroup], end = starts[_inGroup + 1];
            var editor = VBufferEditor.Create(ref value, end - start);
            for (int k = start; k < end; k++)
            {
                editor.Values[k - start] = convert(values[k]);
            }

            value = editor.Commit();
        }

        // Reads the active columns of one row group. Parquet stores the present values densely with one repetition and
        // definition level per slot: a slot with repetition 0 starts a row, and only slots at the maximum definition
        // level hold a value (others are nulls or empty lists).
        private void ReadGroup(int group)
        {
            using ParquetRowGroupReader reader = _reader.OpenRowGroupReader(group);
            _rowsInGroup = reader.RowCount;
            _inGroup = -1;
            for (int c = 0; c < _view._columns.Count; c++)
            {
                if (!_active.Contains(c))
                {
                    continue;
                }

                DataField field = _view._columns[c].Field;
                (_values[c], _starts[c]) = field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>)
                    ? ReadAsync<ReadOnlyMemory<char>>(reader, field, m => m.ToString()).GetAwaiter().GetResult()
                    : field.ClrType == typeof(float) ? ReadAsync<float>(reader, field, v => v).GetAwaiter().GetResult()
                    : field.ClrType == typeof(double) ? ReadAsync<double>(reader, field, v => v).GetAwaiter().GetResult()
                    : field.ClrType == typeof(int) ? ReadAsync<int>(reader, field, v => v).GetAwaiter().GetResult()
                    : ReadAsync<long>(reader, field, v => v).GetAwaiter().GetResult();
            }
        }

        private async Task<(Array Values, int[]? Starts)> ReadAsync<T>(ParquetRowGroupReader reader, DataField field, Func<T, object> convert)
            where T : struct
        {
            int slots = checked((int)(reader.GetMetadata(field)?.MetaData?.NumValues ?? _rowsInGroup));
            bool list = field.MaxRepetitionLevel > 0;
            T[] present = new T[slots];
            int[] definitions = field.MaxDefinitionLevel > 0 ? new int[slots] : [];
            int[] repetitions = list ? new int[slots] : [];
            await reader.ReadRawAsync<T>(field, present.AsMemory(), definitions.Length > 0 ? definitions.AsMemory() : (Memory<int>?)null, list ? repetitions.AsMemory() : (Memory<int>?)null, CancellationToken.None);
            if (!list && definitions.Length == 0)
            {
                return (Typed(present, convert), null);
            }

            // Scalars: a slot below the maximum definition level is a null (read as empty text or 0).
            var values = new List<T>(slots);
            var starts = list ? new List<int>((int)_rowsInGroup + 1) : null;
            int next = 0;
            for (int k = 0; k < slots; k++)
            {
                if (list && (repetitions.Length == 0 || repetitions[k] == 0))
                {
                    starts!.Add(values.Count);
                }

                bool hasValue = definitions.Length == 0 || definitions[k] == field.MaxDefinitionLevel;
                if (hasValue)
                {
                    values.Add(present[next++]);
                }
                else if (!list)
                {
                    values.Add(default);
                }
            }

            starts?.Add(values.Count);
            return (Typed([.. values], convert), starts?.ToArray());
        }

        private static Array Typed<T>(T[] values, Func<T, object> convert) =>
            typeof(T) == typeof(ReadOnlyMemory<char>) ? values.Select(v => (string)convert(v)).ToArray() : values;
    }
}
