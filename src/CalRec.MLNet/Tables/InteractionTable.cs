using System.Globalization;
using CalRec.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet.Tables;

/// <summary>
/// Reads an interactions table (one row per user-item event) and an item catalogue table into the library's
/// <see cref="InteractionDataset"/>: events grouped per user in first-appearance order, each user's events ordered by
/// the timestamp column when there is one (ties keep table order). Every failure names the table, the row (1-based) and
/// the column.
/// </summary>
internal static class InteractionTable
{
    private const string Interactions = "interactions table";
    private const string Catalogue = "item catalogue (Items)";

    /// <summary>The named columns of an interactions table, checked; optional ones are null when absent.</summary>
    internal static (DataViewSchema.Column User, DataViewSchema.Column Item, DataViewSchema.Column? Time, DataViewSchema.Column? Rating, DataViewSchema.Column? Domain)
        Columns(DataViewSchema schema, string userColumn, string itemColumn, string? timeColumn, string? ratingColumn = null, string? domainColumn = null) =>
        (ColumnReader.Require(schema, userColumn, Interactions, ColumnReader.IdTypes, ColumnReader.IsId),
         ColumnReader.Require(schema, itemColumn, Interactions, ColumnReader.IdTypes, ColumnReader.IsId),
         ColumnReader.Optional(schema, timeColumn, Interactions, "a number or a date", t => ColumnReader.IsNumber(t) || t is DateTimeDataViewType or DateTimeOffsetDataViewType),
         ColumnReader.Optional(schema, ratingColumn, Interactions, "a number", ColumnReader.IsNumber),
         ColumnReader.Optional(schema, domainColumn, Interactions, "text", t => t is TextDataViewType));

    /// <summary>Reads the tables into a dataset (see the type's summary).</summary>
    internal static InteractionDataset Read(IDataView interactions, SequentialRecommenderOptions o)
    {
        List<CatalogItem>? catalogue = o.Items is null ? null : ReadItems(o.Items, o);
        Dictionary<string, int>? index = catalogue?.Select((item, i) => (item.Id, i)).ToDictionary(p => p.Id, p => p.i, StringComparer.Ordinal);
        var itemDomains = new Dictionary<string, string>(StringComparer.Ordinal);
        var firstSeen = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        List<(string User, List<string> Items)> users = Group(interactions, o.UserIdColumnName, o.ItemIdColumnName, o.TimestampColumnName, o.RatingColumnName, o.MinRating,
            o.DomainColumnName, (row, item, domain) =>
            {
                if (index is not null && !index.ContainsKey(item))
                {
                    throw new InvalidDataException($"{Interactions}, row {row}, column '{o.ItemIdColumnName}': item '{item}' is not in the {Catalogue}.");
                }

                if (seen.Add(item))
                {
                    firstSeen.Add(item);
                }

                if (domain is not null)
                {
                    itemDomains.TryAdd(item, domain);
                }
            });
        if (users.Count == 0)
        {
            throw new InvalidDataException($"{Interactions}: no rows{(o.MinRating is { } m ? $" rated {m.ToString(CultureInfo.InvariantCulture)} or more" : "")}: nothing to train on.");
        }

        catalogue ??= firstSeen.Select(id => new CatalogItem(id, "", "")).ToList();
        catalogue = catalogue.Select(item => item.Domain is null && itemDomains.TryGetValue(item.Id, out string? d) ? item with { Domain = d } : item).ToList();
        return InteractionDataset.Create(o.DatasetName, catalogue, users.Select(u => new UserSequence(u.User, u.Items, null)));
    }

    /// <summary>
    /// Groups an interactions table per user (first-appearance order), each user's items in timestamp order when
    /// <paramref name="timeColumn"/> is present; <paramref name="onEvent"/> sees (row, item, domain) of every kept row.
    /// </summary>
    internal static List<(string User, List<string> Items)> Group(IDataView interactions, string userColumn, string itemColumn, string? timeColumn,
        string? ratingColumn = null, float? minRating = null, string? domainColumn = null, Action<long, string, string?>? onEvent = null)
    {
        var (user, item, time, rating, domain) = Columns(interactions.Schema, userColumn, itemColumn, timeColumn, minRating is null ? null : ratingColumn, domainColumn);
        if (minRating is not null && rating is null)
        {
            throw new ArgumentOutOfRangeException(nameof(interactions), $"{Interactions}: MinRating is set but there is no rating column '{ratingColumn}'.");
        }

        var columns = new List<DataViewSchema.Column> { user, item };
        columns.AddRange(new[] { time, rating, domain }.OfType<DataViewSchema.Column>());
        var byUser = new Dictionary<string, int>(StringComparer.Ordinal);
        var groups = new List<(string User, List<(double Time, string Item)> Events)>();
        using DataViewRowCursor cursor = interactions.GetRowCursor(columns);
        Func<string> getUser = ColumnReader.IdGetter(cursor, user), getItem = ColumnReader.IdGetter(cursor, item);
        Func<double>? getTime = time is { } t ? ColumnReader.OrderGetter(cursor, t) : null;
        Func<double>? getRating = rating is { } r ? ColumnReader.OrderGetter(cursor, r) : null;
        ValueGetter<ReadOnlyMemory<char>>? getDomain = domain is { } d ? cursor.GetGetter<ReadOnlyMemory<char>>(d) : null;
        ReadOnlyMemory<char> domainValue = default;
        long row = 0;
        while (cursor.MoveNext())
        {
            row++;
            string u = getUser(), i = getItem();
            if (u.Length == 0 || i.Length == 0)
            {
                throw new InvalidDataException($"{Interactions}, row {row}, column '{(u.Length == 0 ? userColumn : itemColumn)}': empty id.");
            }

            if (getRating is not null && getRating() < minRating!.Value)
            {
                continue;
            }

            double when = getTime?.Invoke() ?? row;
            if (double.IsNaN(when))
            {
                throw new InvalidDataException($"{Interactions}, row {row}, column '{timeColumn}': missing timestamp.");
            }

            string? dom = null;
            if (getDomain is not null)
            {
                getDomain(ref domainValue);
                dom = domainValue.Length == 0 ? null : domainValue.ToString();
            }

            onEvent?.Invoke(row, i, dom);
            if (!byUser.TryGetValue(u, out int g))
            {
                byUser[u] = g = groups.Count;
                groups.Add((u, []));
            }

            groups[g].Events.Add((when, i));
        }

        // A stable sort: events with equal timestamps keep the table's order.
        return groups.Select(g => (g.User, g.Events.Select((e, k) => (e, k)).OrderBy(p => p.e.Time).ThenBy(p => p.k).Select(p => p.e.Item).ToList())).ToList();
    }

    /// <summary>Reads the item catalogue table.</summary>
    internal static List<CatalogItem> ReadItems(IDataView items, SequentialRecommenderOptions o)
    {
        DataViewSchema schema = items.Schema;
        DataViewSchema.Column id = ColumnReader.Require(schema, o.ItemIdColumnName, Catalogue, ColumnReader.IdTypes, ColumnReader.IsId);
        DataViewSchema.Column title = ColumnReader.Require(schema, o.ItemTitleColumnName, Catalogue, "text", t => t is TextDataViewType);
        DataViewSchema.Column[] texts = o.ItemTextColumnNames.Select(n => ColumnReader.Require(schema, n, Catalogue, "text", t => t is TextDataViewType)).ToArray();
        DataViewSchema.Column? domain = ColumnReader.Optional(schema, o.DomainColumnName, Catalogue, "text", t => t is TextDataViewType);
        DataViewSchema.Column? attributes = ColumnReader.Optional(schema, o.ItemAttributesColumnName, Catalogue, "text (key=value; ...)", t => t is TextDataViewType);
        if (attributes is { } ac)
        {
            texts = [ac, .. texts];
        }

        var columns = new List<DataViewSchema.Column> { id, title };
        columns.AddRange(texts);
        if (domain is { } dc)
        {
            columns.Add(dc);
        }

        using DataViewRowCursor cursor = items.GetRowCursor(columns);
        Func<string> getId = ColumnReader.IdGetter(cursor, id);
        var getTexts = new DataViewSchema.Column?[] { title }.Concat(texts.Cast<DataViewSchema.Column?>()).Append(domain).Select(c => c is { } col ? cursor.GetGetter<ReadOnlyMemory<char>>(col) : null).ToArray();
        var result = new List<CatalogItem>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        ReadOnlyMemory<char> value = default;
        long row = 0;
        while (cursor.MoveNext())
        {
            row++;
            string itemId = getId();
            if (itemId.Length == 0 || !ids.Add(itemId))
            {
                throw new InvalidDataException($"{Catalogue}, row {row}, column '{o.ItemIdColumnName}': {(itemId.Length == 0 ? "empty id" : $"duplicated item id '{itemId}'")}.");
            }

            getTexts[0]!(ref value);
            string itemTitle = Clean(value);
            var extra = new List<string>();
            for (int k = 0; k < texts.Length; k++)
            {
                getTexts[k + 1]!(ref value);
                if (value.Length > 0)
                {
                    // The attributes column is already 'key=value; ...'; other columns become one attribute each.
                    extra.Add(texts[k].Index == attributes?.Index ? value.ToString() : $"{texts[k].Name.ToLowerInvariant()}={Clean(value)}");
                }
            }

            string? itemDomain = null;
            if (getTexts[^1] is { } getDomain)
            {
                getDomain(ref value);
                itemDomain = value.Length == 0 ? null : value.ToString();
            }

            result.Add(new CatalogItem(itemId, itemTitle, string.Join("; ", extra), itemDomain));
        }

        if (result.Count == 0)
        {
            throw new InvalidDataException($"{Catalogue}: no rows.");
        }

        return result;
    }

    // Attribute values live in a 'key=value; ...' string: separators inside a value become commas, line breaks spaces.
    private static string Clean(ReadOnlyMemory<char> text) => text.ToString().Replace(';', ',').Replace('\n', ' ').Replace('\r', ' ').Trim();
}
