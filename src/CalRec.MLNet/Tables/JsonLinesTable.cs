using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet.Tables;

/// <summary>Writes a table as JSON lines (one object per row, visible columns only; vectors as arrays), atomically.</summary>
internal static class JsonLinesTable
{
    internal static long Save(IDataView data, Stream output, IProgress<long>? progress = null, CancellationToken cancellation = default)
    {
        var columns = data.Schema.Where(c => !c.IsHidden).ToList();
        using DataViewRowCursor cursor = data.GetRowCursor(columns);
        Action<Utf8JsonWriter>[] writers = columns.Select(c => Writer(cursor, c)).ToArray();
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        long rows = 0;
        while (cursor.MoveNext())
        {
            cancellation.ThrowIfCancellationRequested();
            json.WriteStartObject();
            for (int i = 0; i < writers.Length; i++)
            {
                json.WritePropertyName(columns[i].Name);
                writers[i](json);
            }

            json.WriteEndObject();
            json.Flush();
            output.WriteByte((byte)'\n');
            json.Reset();
            if (++rows % 10_000 == 0)
            {
                progress?.Report(rows);
            }
        }

        progress?.Report(rows);
        return rows;
    }

    private static Action<Utf8JsonWriter> Writer(DataViewRow row, DataViewSchema.Column c)
    {
        switch (c.Type)
        {
            case TextDataViewType:
            {
                ValueGetter<ReadOnlyMemory<char>> g = row.GetGetter<ReadOnlyMemory<char>>(c);
                ReadOnlyMemory<char> v = default;
                return w =>
                {
                    g(ref v);
                    w.WriteStringValue(v.Span);
                };
            }

            case VectorDataViewType { ItemType: TextDataViewType }:
            {
                ValueGetter<VBuffer<ReadOnlyMemory<char>>> g = row.GetGetter<VBuffer<ReadOnlyMemory<char>>>(c);
                VBuffer<ReadOnlyMemory<char>> v = default;
                return w =>
                {
                    g(ref v);
                    w.WriteStartArray();
                    foreach (ReadOnlyMemory<char> s in v.DenseValues())
                    {
                        w.WriteStringValue(s.Span);
                    }

                    w.WriteEndArray();
                };
            }

            case VectorDataViewType { ItemType: var item } when item == NumberDataViewType.Single:
            {
                ValueGetter<VBuffer<float>> g = row.GetGetter<VBuffer<float>>(c);
                VBuffer<float> v = default;
                return w =>
                {
                    g(ref v);
                    w.WriteStartArray();
                    foreach (float f in v.DenseValues())
                    {
                        w.WriteNumberValue(f);
                    }

                    w.WriteEndArray();
                };
            }

            case var t when ColumnReader.IsNumber(t):
            {
                Func<double> g = ColumnReader.OrderGetter(row, c);
                return w => w.WriteNumberValue(g());
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(c), $"column '{c.Name}' has type {ColumnReader.Describe(c.Type)}; the JSON lines writer takes text, numbers and vectors of text or float.");
        }
    }
}
