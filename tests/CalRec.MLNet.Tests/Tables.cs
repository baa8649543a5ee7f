using CalRec.Data;
using CalRec.Data.Synthetic;
using CalRec.MLNet.Persistence;
using Microsoft.ML;

namespace CalRec.MLNet.Tests;

/// <summary>An interactions table row as a user would declare it.</summary>
public sealed class InteractionRow
{
    public string UserId { get; set; } = "";

    public string ItemId { get; set; } = "";

    public long Timestamp { get; set; }

    public float Rating { get; set; }
}

/// <summary>An item catalogue row.</summary>
public sealed class ItemRow
{
    public string ItemId { get; set; } = "";

    public string Title { get; set; } = "";

    public string Brand { get; set; } = "";

    public string Domain { get; set; } = "";
}

/// <summary>The input and output classes of a PredictionEngine, as Model Builder generates them.</summary>
public sealed class ModelInput
{
    public string UserId { get; set; } = "";

    public string[] History { get; set; } = [];
}

/// <summary>The output of a PredictionEngine.</summary>
public sealed class ModelOutput
{
    public string[] PredictedItemIds { get; set; } = [];

    public float[] Scores { get; set; } = [];
}

/// <summary>The seeded synthetic catalogue as ML.NET tables.</summary>
internal static class Tables
{
    internal static InteractionDataset Synthetic(int usersPerDomain, ulong seed = 5) =>
        SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = seed, UsersPerDomain = usersPerDomain }).ToDataset();

    /// <summary>One row per event, timestamps increasing along each history, rating 1-5 (a deterministic pattern).</summary>
    internal static List<InteractionRow> Interactions(InteractionDataset data) =>
        data.Sequences.SelectMany((s, u) => s.Select((item, k) => new InteractionRow
        {
            UserId = data.Users[u],
            ItemId = data.Items[item].Id,
            Timestamp = 1_000 + (10 * k),
            Rating = 1 + ((u + k) % 5),
        })).ToList();

    internal static List<ItemRow> Items(InteractionDataset data) =>
        data.Items.Select(i => new ItemRow { ItemId = i.Id, Title = i.Title, Brand = i.Attribute("brand") ?? "", Domain = i.Domain ?? "" }).ToList();

    internal static IDataView View<T>(this MLContext ml, IEnumerable<T> rows)
        where T : class => ml.Data.LoadFromEnumerable(rows);

    /// <summary>The schema shape of a row type (SchemaShape's own constructors are internal to ML.NET).</summary>
    internal static SchemaShape Shape<T>(MLContext ml)
        where T : class, new() =>
        ml.Transforms.CustomMapping<PlaceholderRow, T>((_, _) => { }, contractName: null).GetOutputSchema(new SchemaShape([]));
}
