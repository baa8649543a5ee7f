using Microsoft.ML;
using Microsoft.ML.Data;
using Parquet;
using Parquet.Schema;

namespace CalRec.MLNet.Tables;

/// <summary>
/// Parquet files as ML.NET tables, streaming: reading holds one row group at a time, writing buffers one row group.
/// Columns of text, float, double, int and long, and lists of text or float (ML.NET vectors), are supported.
/// </summary>
internal static class ParquetTable
{
    internal const int RowGroupSize = 16_384;

    /// <summary>A lazy table over the Parquet file at <paramref name="path"/>.</summary>
    internal static IDataView Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: file not found.", path);
        }

        ParquetSchema schema;
        try
        {
            using FileStream stream = File.OpenRead(path);
            schema = ParquetReader.ReadSchemaAsync(stream).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({ex.Message}).", ex);
        }

        var columns = new List<(DataField Field, bool IsList, DataViewType Type)>();
        var builder = new DataViewSchema.Builder();
        foreach (Field field in schema.Fields)
        {
            (DataField data, bool isList) = field switch
            {
                ListField { Item: DataField item } => (item, true),
                DataField d => (d, false),
                _ => throw new InvalidDataException($"{path}: column '{field.Name}' is a {field.SchemaType} column; only plain columns and lists are read."),
            };
            DataViewType itemType = ItemType(data.ClrType) ?? throw new InvalidDataException($"{path}: column '{field.Name}' holds {data.ClrType.Name}; expected text, float, double, int or long.");
            DataViewType type = isList ? new VectorDataViewType((PrimitiveDataViewType)itemType) : itemType;
            columns.Add((data, isList, type));
            builder.AddColumn(field.Name, type);
        }

        return new ParquetDataView(path, builder.ToSchema(), columns);
    }

    /// <summary>
    /// Writes <paramref name="data"/> to <paramref name="path"/> (temporary file, then renamed over the target);
    /// <paramref name="progress"/> hears the number of rows written after each row group.
    /// </summary>
    internal static long Save(IDataView data, string path, IProgress<long>? progress = null, CancellationToken cancellation = default) =>
        SaveAsync(data, path, progress, cancellation).GetAwaiter().GetResult();

    private static async Task<long> SaveAsync(IDataView data, string path, IProgress<long>? progress, CancellationToken cancellation)
    {
        var columns = data.Schema.Where(c => !c.IsHidden).ToList();
        var fields = new List<Field>();
        foreach (DataViewSchema.Column c in columns)
        {
            DataViewType item = c.Type is VectorDataViewType v ? v.ItemType : c.Type;
            Type clr = ClrType(item) ?? throw new ArgumentOutOfRangeException(nameof(data), $"column '{c.Name}' has type {ColumnReader.Describe(c.Type)}; the Parquet writer takes text, float, double, int, long and vectors of them.");
            fields.Add(c.Type is VectorDataViewType ? new ListField(c.Name, new DataField(c.Name, clr, isNullable: false)) : new DataField(c.Name, clr, isNullable: false));
        }

        var schema = new ParquetSchema(fields);
        string full = Path.GetFullPath(path);
        string temp = full + $".tmp-{Guid.NewGuid():N}";
        long rows = 0;
        try
        {
            await using (FileStream stream = File.Create(temp))
            await using (ParquetWriter writer = await ParquetWriter.CreateAsync(schema, stream, cancellationToken: cancellation))
            using (DataViewRowCursor cursor = data.GetRowCursor(columns))
            {
                var buffers = columns.Select(c => ColumnBuffer.For(cursor, c)).ToArray();
                DataField[] dataFields = schema.GetDataFields();
                int inGroup = 0;
                while (cursor.MoveNext())
                {
                    cancellation.ThrowIfCancellationRequested();
                    foreach (ColumnBuffer b in buffers)
                    {
                        b.Read();
                    }

                    rows++;
                    if (++inGroup == RowGroupSize)
                    {
                        await FlushAsync(writer, dataFields, buffers);
                        inGroup = 0;
                        progress?.Report(rows);
                    }
                }

                if (inGroup > 0 || rows == 0)
                {
                    await FlushAsync(writer, dataFields, buffers);
                }
            }

            File.Move(temp, full, overwrite: true);
            progress?.Report(rows);
            return rows;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static async Task FlushAsync(ParquetWriter writer, DataField[] fields, ColumnBuffer[] buffers)
    {
        using ParquetRowGroupWriter group = writer.CreateRowGroup();
        for (int i = 0; i < buffers.Length; i++)
        {
            await buffers[i].WriteAsync(group, fields[i]);
        }

        group.CompleteValidate();
    }

    private static DataViewType? ItemType(Type clr) => clr == typeof(string) || clr == typeof(ReadOnlyMemory<char>) ? TextDataViewType.Instance
        : clr == typeof(float) ? NumberDataViewType.Single
        : clr == typeof(double) ? NumberDataViewType.Double
        : clr == typeof(int) ? NumberDataViewType.Int32
        : clr == typeof(long) ? NumberDataViewType.Int64
        : null;

    private static Type? ClrType(DataViewType item) => item is TextDataViewType ? typeof(string)
        : item == NumberDataViewType.Single ? typeof(float)
        : item == NumberDataViewType.Double ? typeof(double)
        : item == NumberDataViewType.Int32 ? typeof(int)
        : item == NumberDataViewType.Int64 ? typeof(long)
        : null;

    /// <summary>
    /// One column's values of the current row group: a flat array of the present values, plus, for lists, a repetition
    /// level and a definition level per slot (an empty list is one slot without a value, one definition level below the
    /// field's maximum).
    /// </summary>
    private abstract class ColumnBuffer
    {
        private readonly Reused<int> _repetitions = new();
        private readonly Reused<bool> _present = new();
        private readonly Reused<int> _definitions = new();

        internal static ColumnBuffer For(DataViewRowCursor cursor, DataViewSchema.Column c)
        {
            DataViewType item = c.Type is VectorDataViewType v ? v.ItemType : c.Type;
            return item switch
            {
                TextDataViewType => new Text(cursor, c),
                _ when item == NumberDataViewType.Single => new Number<float>(cursor, c),
                _ when item == NumberDataViewType.Double => new Number<double>(cursor, c),
                _ when item == NumberDataViewType.Int32 => new Number<int>(cursor, c),
                _ => new Number<long>(cursor, c),
            };
        }

        internal abstract void Read();

        internal abstract Task WriteAsync(ParquetRowGroupWriter group, DataField field);

        protected void Levels(int count)
        {
            if (count == 0)
            {
                _repetitions.Add(0);
                _present.Add(false);
                return;
            }

            for (int k = 0; k < count; k++)
            {
                _repetitions.Add(k == 0 ? 0 : 1);
                _present.Add(true);
            }
        }

        protected async Task WriteListAsync<T>(ParquetRowGroupWriter group, DataField field, ReadOnlyMemory<T> values)
            where T : struct
        {
            _definitions.Clear();
            ReadOnlySpan<bool> present = _present.Memory.Span;
            for (int i = 0; i < present.Length; i++)
            {
                _definitions.Add(present[i] ? field.MaxDefinitionLevel : field.MaxDefinitionLevel - 1);
            }

            await group.WriteAllPartsAsync<T>(field, values, _definitions.Memory, _repetitions.Memory, CancellationToken.None);
            _repetitions.Clear();
            _present.Clear();
        }

        private sealed class Text : ColumnBuffer
        {
            private readonly Reused<ReadOnlyMemory<char>> _values = new();
            private readonly ValueGetter<ReadOnlyMemory<char>>? _scalar;
            private readonly ValueGetter<VBuffer<ReadOnlyMemory<char>>>? _vector;
            private ReadOnlyMemory<char> _one;
            private VBuffer<ReadOnlyMemory<char>> _many;

            internal Text(DataViewRowCursor cursor, DataViewSchema.Column c)
            {
                if (c.Type is VectorDataViewType)
                {
                    _vector = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(c);
                }
                else
                {
                    _scalar = cursor.GetGetter<ReadOnlyMemory<char>>(c);
                }
            }

            internal override void Read()
            {
                if (_scalar is not null)
                {
                    _scalar(ref _one);
                    // The getter may reuse its buffer for the next row: keep a copy.
                    _values.Add(_one.ToString().AsMemory());
                    return;
                }

                _vector!(ref _many);
                Levels(_many.Length);
                foreach (ReadOnlyMemory<char> s in _many.DenseValues())
                {
                    _values.Add(s.ToString().AsMemory());
                }
            }

            internal override async Task WriteAsync(ParquetRowGroupWriter group, DataField field)
            {
                if (_vector is null)
                {
                    await group.WriteAsync<ReadOnlyMemory<char>>(field, _values.Memory);
                }
                else
                {
                    await WriteListAsync(group, field, _values.Memory);
                }

                _values.Clear();
            }
        }

        private sealed class Number<T> : ColumnBuffer
            where T : struct
        {
            private readonly Reused<T> _values = new();
            private readonly ValueGetter<T>? _scalar;
            private readonly ValueGetter<VBuffer<T>>? _vector;
            private T _one;
            private VBuffer<T> _many;

            internal Number(DataViewRowCursor cursor, DataViewSchema.Column c)
            {
                if (c.Type is VectorDataViewType)
                {
                    _vector = cursor.GetGetter<VBuffer<T>>(c);
                }
                else
                {
                    _scalar = cursor.GetGetter<T>(c);
                }
            }

            internal override void Read()
            {
                if (_scalar is not null)
                {
                    _scalar(ref _one);
                    _values.Add(_one);
                    return;
                }

                _vector!(ref _many);
                Levels(_many.Length);
                foreach (T v in _many.DenseValues())
                {
                    _values.Add(v);
                }
            }

            internal override async Task WriteAsync(ParquetRowGroupWriter group, DataField field)
            {
                if (_vector is null)
                {
                    await group.WriteAsync<T>(field, _values.Memory);
                }
                else
                {
                    await WriteListAsync(group, field, _values.Memory);
                }

                _values.Clear();
            }
        }
    }

    private sealed class Reused<T>
    {
        private T[] _items = new T[1024];

        public int Count { get; private set; }

        public ReadOnlyMemory<T> Memory => _items.AsMemory(0, Count);

        public void Add(T value)
        {
            if (Count == _items.Length)
            {
                Array.Resize(ref _items, _items.Length * 2);
            }

            _items[Count++] = value;
        }

        public void Clear() => Count = 0;
    }
}
