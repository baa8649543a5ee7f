using CalRec.Data;
using CalRec.Tensors;

namespace CalRec.Data.Synthetic;

/// <summary>An item of the synthetic catalogue.</summary>
/// <param name="Id">Item id ("b0042").</param>
/// <param name="Title">Product title.</param>
/// <param name="Brand">Brand name.</param>
/// <param name="Category">Product type within the domain.</param>
/// <param name="Domain">Domain (catalogue section).</param>
public sealed record SyntheticItem(string Id, string Title, string Brand, string Category, string Domain)
{
    /// <summary>The item as "title: ...; brand: ...; category: ..." text.</summary>
    public string ToText() => $"title: {Title}; brand: {Brand}; category: {Domain} > {Category}";
}

/// <summary>A user's chronological history of item ids.</summary>
/// <param name="Id">User id.</param>
/// <param name="Items">Item ids, oldest first.</param>
public sealed record SyntheticUser(string Id, IReadOnlyList<string> Items);

/// <summary>Settings of <see cref="SyntheticCatalog.Generate"/>.</summary>
public sealed record SyntheticCatalogOptions
{
    /// <summary>Seed: equal seeds give equal datasets.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Users per domain.</summary>
    public int UsersPerDomain { get; init; } = 600;

    /// <summary>Brands per domain.</summary>
    public int BrandsPerDomain { get; init; } = 12;

    /// <summary>Shortest history.</summary>
    public int MinLength { get; init; } = 5;

    /// <summary>Longest history.</summary>
    public int MaxLength { get; init; } = 20;

    /// <summary>Probability that the next item follows the brand's product routine.</summary>
    public double FollowRoutine { get; init; } = 0.7;
}

/// <summary>
/// A seeded catalogue in several domains whose users follow learnable routines: within a domain, product types form a
/// cycle (cleanser → toner → serum → ...), and a user mostly moves to the next type of the same brand, sometimes to the
/// same type of another brand, and sometimes to a popular item. The text (brand, type) carries the signal, so both
/// id-based and text-based recommenders can learn it, and popularity alone cannot.
/// </summary>
public sealed class SyntheticCatalog
{
    private static readonly (string Domain, string[] Types, string[] Adjectives)[] Domains =
    [
        ("beauty", ["cleanser", "toner", "serum", "moisturizer", "sunscreen", "night cream"], ["gentle", "hydrating", "radiant", "soothing", "matte", "daily"]),
        ("office", ["notebook", "gel pen", "highlighter", "sticky notes", "stapler", "desk organizer"], ["compact", "premium", "recycled", "classic", "bold", "slim"]),
        ("kitchen", ["chef knife", "cutting board", "mixing bowl", "whisk", "spatula", "measuring cups"], ["steel", "bamboo", "nonstick", "pro", "silicone", "heavy"]),
    ];

    private static readonly string[] Syllables = ["ka", "lo", "mi", "ra", "ve", "no", "ti", "sa", "zu", "pe", "lu", "da", "ori", "bel", "xan", "qui"];

    private SyntheticCatalog(List<SyntheticItem> items, List<SyntheticUser> users)
    {
        Items = items;
        Users = users;
    }

    /// <summary>The catalogue.</summary>
    public IReadOnlyList<SyntheticItem> Items { get; }

    /// <summary>The users, each with a chronological history.</summary>
    public IReadOnlyList<SyntheticUser> Users { get; }

    /// <summary>The catalogue and histories as an <see cref="InteractionDataset"/> (attributes in <c>extra</c>).</summary>
    public InteractionDataset ToDataset(string name = "synthetic") => InteractionDataset.Create(
        name,
        Items.Select(i => new CatalogItem(i.Id, i.Title, $"brand={i.Brand}; category={i.Category}; domain={i.Domain}")).ToList(),
        Users.Select(u => new UserSequence(u.Id, u.Items, null)));

    /// <summary>Generates the dataset.</summary>
    public static SyntheticCatalog Generate(SyntheticCatalogOptions? options = null)
    {
        options ??= new SyntheticCatalogOptions();
        var g = new SeededRandom(options.Seed);
        var items = new List<SyntheticItem>();
        var users = new List<SyntheticUser>();
        var usedBrands = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string domain, string[] types, string[] adjectives) in Domains)
        {
            var brands = new List<string>();
            while (brands.Count < options.BrandsPerDomain)
            {
                string name = Capitalize(Syllables[g.NextInt(Syllables.Length)] + Syllables[g.NextInt(Syllables.Length)] + (g.NextInt(2) == 0 ? Syllables[g.NextInt(Syllables.Length)] : string.Empty));
                if (usedBrands.Add(name))
                {
                    brands.Add(name);
                }
            }

            // grid[brand][type] = index of the item in `items`.
            int[,] grid = new int[brands.Count, types.Length];
            for (int b = 0; b < brands.Count; b++)
            {
                for (int t = 0; t < types.Length; t++)
                {
                    string adjective = adjectives[g.NextInt(adjectives.Length)];
                    string size = (g.NextInt(4) switch { 0 => "50 ml", 1 => "pack of 3", 2 => "large", _ => "travel size" });
                    grid[b, t] = items.Count;
                    items.Add(new SyntheticItem($"{domain[0]}{items.Count:D4}", $"{brands[b]} {adjective} {types[t]}, {size}", brands[b], types[t], domain));
                }
            }

            // Zipf-like brand popularity for the "popular item" move and for starting points.
            double[] brandWeight = Enumerable.Range(0, brands.Count).Select(i => 1.0 / (i + 1)).ToArray();
            for (int u = 0; u < options.UsersPerDomain; u++)
            {
                int length = options.MinLength + g.NextInt(options.MaxLength - options.MinLength + 1);
                int brand = Sample(g, brandWeight), type = g.NextInt(types.Length);
                var seq = new List<string>(length);
                var seen = new HashSet<int>();
                while (seq.Count < length)
                {
                    int idx = grid[brand, type];
                    if (seen.Add(idx))
                    {
                        seq.Add(items[idx].Id);
                    }

                    double r = g.NextDouble();
                    if (r < options.FollowRoutine)
                    {
                        type = (type + 1) % types.Length;
                    }
                    else if (r < options.FollowRoutine + ((1 - options.FollowRoutine) / 2))
                    {
                        brand = g.NextInt(brands.Count);
                    }
                    else
                    {
                        brand = Sample(g, brandWeight);
                        type = g.NextInt(types.Length);
                    }

                    if (seen.Count == brands.Count * types.Length)
                    {
                        break;
                    }
                }

                users.Add(new SyntheticUser($"{domain}-u{u:D4}", seq));
            }
        }

        return new SyntheticCatalog(items, users);
    }

    private static int Sample(SeededRandom g, double[] weights)
    {
        double total = weights.Sum(), r = g.NextDouble() * total;
        for (int i = 0; i < weights.Length; i++)
        {
            r -= weights[i];
            if (r < 0)
            {
                return i;
            }
        }

        return weights.Length - 1;
    }

    private static string Capitalize(string s) => char.ToUpperInvariant(s[0]) + s[1..];
}
