using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet.Tables;

/// <summary>
/// Finds a named column of a table and checks its type, with one message style for every failure: the table's role, the
/// column name, the expected type and what was found.
/// </summary>
internal static class ColumnReader
{
    /// <summary>Text, or an integer or floating-point number (ids read from numeric columns are formatted invariantly).</summary>
    internal const string IdTypes = "text or a number";

    /// <summary>The column <paramref name="name"/> of <paramref name="schema"/>; a missing column is an error naming <paramref name="table"/>.</summary>
    internal static DataViewSchema.Column Require(DataViewSchema schema, string name, string table, string expected, Func<DataViewType, bool> accepts)
    {
        DataViewSchema.Column column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"{table}: column '{name}' not found (expected {expected}; columns present: {string.Join(", ", schema.Select(c => $"'{c.Name}'"))}).");
        if (!accepts(column.Type))
        {
            throw new ArgumentOutOfRangeException(nameof(schema), $"{table}: column '{name}' has type {Describe(column.Type)}; expected {expected}.");
        }

        return column;
    }

    /// <summary>The column if present (checked like <see cref="Require"/>), otherwise null.</summary>
    internal static DataViewSchema.Column? Optional(DataViewSchema schema, string? name, string table, string expected, Func<DataViewType, bool> accepts) =>
        name is not null && schema.GetColumnOrNull(name) is not null ? Require(schema, name, table, expected, accepts) : null;

    /// <summary>Whether a scalar column of this type can hold ids (see <see cref="IdTypes"/>).</summary>
    internal static bool IsId(DataViewType type) => type is TextDataViewType || IsNumber(type);

    /// <summary>Whether the type is a scalar number.</summary>
    internal static bool IsNumber(DataViewType type) =>
        type == NumberDataViewType.Int32 || type == NumberDataViewType.Int64 || type == NumberDataViewType.UInt32 || type == NumberDataViewType.UInt64
        || type == NumberDataViewType.Single || type == NumberDataViewType.Double || type == NumberDataViewType.Int16 || type == NumberDataViewType.UInt16;

    /// <summary>Whether the type is a vector of text (a history of item ids).</summary>
    internal static bool IsTextVector(DataViewType type) => type is VectorDataViewType { ItemType: TextDataViewType };

    /// <summary>ML.NET's name for a column type, as a user writes it in a class (<c>string</c>, <c>string[]</c>, <c>float</c>...).</summary>
    internal static string Describe(DataViewType type) => type switch
    {
        TextDataViewType => "text (string)",
        VectorDataViewType v => $"vector of {Describe(v.ItemType)}",
        KeyDataViewType k => $"key ({k.RawType.Name})",
        _ => type.RawType.Name,
    };

    /// <summary>A getter that reads an id column of any <see cref="IdTypes"/> as a string.</summary>
    internal static Func<string> IdGetter(DataViewRow row, DataViewSchema.Column column)
    {
        DataViewType t = column.Type;
        if (t is TextDataViewType)
        {
            ValueGetter<ReadOnlyMemory<char>> g = row.GetGetter<ReadOnlyMemory<char>>(column);
            ReadOnlyMemory<char> v = default;
            return () =>
            {
                g(ref v);
                return v.ToString();
            };
        }

        return NumberGetter<string>(row, column, d => d.ToString(CultureInfo.InvariantCulture), l => l.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>A getter that reads a numeric or date column as a sortable 64-bit value (dates as ticks).</summary>
    internal static Func<double> OrderGetter(DataViewRow row, DataViewSchema.Column column)
    {
        if (column.Type is DateTimeDataViewType)
        {
            ValueGetter<DateTime> g = row.GetGetter<DateTime>(column);
            DateTime v = default;
            return () =>
            {
                g(ref v);
                return v.Ticks;
            };
        }

        if (column.Type is DateTimeOffsetDataViewType)
        {
            ValueGetter<DateTimeOffset> g = row.GetGetter<DateTimeOffset>(column);
            DateTimeOffset v = default;
            return () =>
            {
                g(ref v);
                return v.UtcTicks;
            };
        }

        return NumberGetter<double>(row, column, d => d, l => l);
    }

    private static Func<T> NumberGetter<T>(DataViewRow row, DataViewSchema.Column column, Func<double, T> fromDouble, Func<long, T> fromLong)
    {
        DataViewType t = column.Type;
        if (t == NumberDataViewType.Single)
        {
            return Read<float, T>(row, column, v => fromDouble(v));
        }

        if (t == NumberDataViewType.Double)
        {
            return Read<double, T>(row, column, fromDouble);
        }

        if (t == NumberDataViewType.Int16)
        {
            return Read<short, T>(row, column, v => fromLong(v));
        }

        if (t == NumberDataViewType.UInt16)
        {
            return Read<ushort, T>(row, column, v => fromLong(v));
        }

        if (t == NumberDataViewType.Int32)
        {
            return Read<int, T>(row, column, v => fromLong(v));
        }

        if (t == NumberDataViewType.UInt32)
        {
            return Read<uint, T>(row, column, v => fromLong(v));
        }

        if (t == NumberDataViewType.Int64)
        {
            return Read<long, T>(row, column, fromLong);
        }

        if (t == NumberDataViewType.UInt64)
        {
            return Read<ulong, T>(row, column, v => fromLong((long)v));
        }

        throw new InvalidOperationException($"Column '{column.Name}' of type {Describe(t)} is not numeric.");
    }

    private static Func<T> Read<TValue, T>(DataViewRow row, DataViewSchema.Column column, Func<TValue, T> convert)
    {
        ValueGetter<TValue> g = row.GetGetter<TValue>(column);
        TValue v = default!;
        return () =>
        {
            g(ref v);
            return convert(v);
        };
    }
}
