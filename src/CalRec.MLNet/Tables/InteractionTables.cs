using CalRec.Data;
using CalRec.Data.Synthetic;
using Microsoft.ML;

namespace CalRec.MLNet;

/// <summary>A row of the demo interactions table.</summary>
public sealed class DemoInteraction
{
    /// <summary>The user.</summary>
    public string UserId { get; set; } = "";

    /// <summary>The item picked.</summary>
    public string ItemId { get; set; } = "";

    /// <summary>When (the position in the user's history).</summary>
    public long Timestamp { get; set; }
}

/// <summary>A row of the demo item catalogue.</summary>
public sealed class DemoItem
{
    /// <summary>The item id.</summary>
    public string ItemId { get; set; } = "";

    /// <summary>The title.</summary>
    public string Title { get; set; } = "";

    /// <summary>The brand.</summary>
    public string Brand { get; set; } = "";

    /// <summary>The product type.</summary>
    public string Category { get; set; } = "";

    /// <summary>The domain (beauty, office or kitchen).</summary>
    public string Domain { get; set; } = "";
}

/// <summary>A row of the item catalogue made from the library's datasets.</summary>
public sealed class DatasetItem
{
    /// <summary>The item id.</summary>
    public string ItemId { get; set; } = "";

    /// <summary>The title.</summary>
    public string Title { get; set; } = "";

    /// <summary>The other attributes as <c>key=value; ...</c>.</summary>
    public string Attributes { get; set; } = "";

    /// <summary>The item's domain.</summary>
    public string Domain { get; set; } = "";
}

/// <summary>An interactions table and its item catalogue.</summary>
/// <param name="Interactions">One row per interaction: <c>UserId</c>, <c>ItemId</c>, <c>Timestamp</c>.</param>
/// <param name="Items">The item catalogue: <c>ItemId</c>, <c>Title</c>, attributes, <c>Domain</c>.</param>
public sealed record InteractionTables(IDataView Interactions, IDataView Items);

/// <summary>Builds <see cref="InteractionTables"/>.</summary>
internal static class InteractionTableFactory
{
    internal static InteractionTables Demo(MLContext ml, int usersPerDomain, ulong seed)
    {
        SyntheticCatalog catalog = SyntheticCatalog.Generate(new SyntheticCatalogOptions { UsersPerDomain = usersPerDomain, Seed = seed });
        IDataView interactions = ml.Data.LoadFromEnumerable(catalog.Users.SelectMany(u => u.Items.Select((item, t) => new DemoInteraction { UserId = u.Id, ItemId = item, Timestamp = t })).ToList());
        IDataView items = ml.Data.LoadFromEnumerable(catalog.Items.Select(i => new DemoItem { ItemId = i.Id, Title = i.Title, Brand = i.Brand, Category = i.Category, Domain = i.Domain }).ToList());
        return new InteractionTables(interactions, items);
    }

    internal static InteractionTables FromDatasets(MLContext ml, IEnumerable<InteractionDataset> datasets)
    {
        var distinct = datasets.DistinctBy(d => d.Name, StringComparer.Ordinal).ToList();
        var items = new List<DatasetItem>();
        var interactions = new List<DemoInteraction>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int n = 0; n < distinct.Count; n++)
        {
            InteractionDataset d = distinct[n];

            // The first dataset keeps its ids (the target, whose items the model recommends); the others' user and item
            // ids are qualified by the dataset's name, since independent datasets reuse ids such as "1".
            string prefix = n == 0 ? string.Empty : d.Name + "/";
            for (int i = 0; i < d.ItemCount; i++)
            {
                CatalogItem item = d.Items[i];
                string id = prefix + item.Id;
                if (!seen.TryAdd(id, d.Name))
                {
                    throw new InvalidDataException($"item id '{id}' is in both {seen[id]} and {d.Name}: item ids must be unique across the datasets of one table.");
                }

                items.Add(new DatasetItem { ItemId = id, Title = item.Title, Attributes = item.Extra, Domain = d.DomainOf(i) });
            }

            for (int u = 0; u < d.Users.Count; u++)
            {
                int[] s = d.Sequences[u];
                for (int k = 0; k < s.Length; k++)
                {
                    interactions.Add(new DemoInteraction { UserId = prefix + d.Users[u], ItemId = prefix + d.Items[s[k]].Id, Timestamp = d.Timestamps?[u][k] ?? k });
                }
            }
        }

        return new InteractionTables(ml.Data.LoadFromEnumerable(interactions), ml.Data.LoadFromEnumerable(items));
    }
}
