using CalRec.Data.Readers;

namespace CalRec.Data;

/// <summary>What to do with a bad record (unknown item id and the like).</summary>
public enum BadRecordPolicy
{
    /// <summary>Stop with a <see cref="DataFormatException"/> naming the first offender.</summary>
    Fail,

    /// <summary>Drop it, count it, and report the count and the first offenders in <see cref="InteractionDataset.Warnings"/>.</summary>
    Skip,
}

/// <summary>
/// A catalogue plus per-user chronological histories, with items mapped to dense indices 0..ItemCount-1 (the order of
/// the catalogue file) so models can use them as embedding rows.
/// </summary>
public sealed class InteractionDataset
{
    private readonly Dictionary<string, int> _itemIndex;

    private InteractionDataset(string name, IReadOnlyList<CatalogItem> items, IReadOnlyList<string> users, IReadOnlyList<int[]> sequences,
        IReadOnlyList<long[]>? timestamps, IReadOnlyList<string> warnings)
    {
        Name = name;
        Timestamps = timestamps;
        Items = items;
        Users = users;
        Sequences = sequences;
        Warnings = warnings;
        _itemIndex = new Dictionary<string, int>(items.Count, StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++)
        {
            _itemIndex[items[i].Id] = i;
        }
    }

    /// <summary>Dataset name (folder name for files on disk).</summary>
    public string Name { get; }

    /// <summary>The catalogue, index = item index.</summary>
    public IReadOnlyList<CatalogItem> Items { get; }

    /// <summary>User ids, index = user index.</summary>
    public IReadOnlyList<string> Users { get; }

    /// <summary>Item indices per user, oldest first.</summary>
    public IReadOnlyList<int[]> Sequences { get; }

    /// <summary>Unix seconds per interaction (same shape as <see cref="Sequences"/>), or null when any user lacks them.</summary>
    public IReadOnlyList<long[]>? Timestamps { get; }

    /// <summary>Problems skipped while reading (empty with <see cref="BadRecordPolicy.Fail"/>).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Number of catalogue items.</summary>
    public int ItemCount => Items.Count;

    /// <summary>Total interactions.</summary>
    public long InteractionCount => Sequences.Sum(s => (long)s.Length);

    /// <summary>The domain of item <paramref name="item"/>: its own tag, or the dataset name when it has none.</summary>
    public string DomainOf(int item) => Items[item].Domain ?? Name;

    /// <summary>The distinct domains of the catalogue, in order of first appearance.</summary>
    public IReadOnlyList<string> Domains => Enumerable.Range(0, ItemCount).Select(DomainOf).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The index of item <paramref name="id"/>, or null.</summary>
    public int? IndexOf(string id) => _itemIndex.TryGetValue(id, out int i) ? i : null;

    /// <summary>
    /// The part of the dataset in <paramref name="domain"/>: the domain's items, and each user's interactions with them
    /// (order and timestamps kept); users with none are dropped. The result is named "NAME/DOMAIN".
    /// </summary>
    public InteractionDataset ForDomain(string domain)
    {
        var keep = new int[ItemCount];
        var items = new List<CatalogItem>();
        for (int i = 0; i < ItemCount; i++)
        {
            keep[i] = string.Equals(DomainOf(i), domain, StringComparison.Ordinal) ? items.Count : -1;
            if (keep[i] >= 0)
            {
                items.Add(Items[i]);
            }
        }

        if (items.Count == 0)
        {
            throw new ArgumentException($"Dataset '{Name}' has no item in domain '{domain}' (domains: {string.Join(", ", Domains)}).", nameof(domain));
        }

        var users = new List<string>();
        var sequences = new List<int[]>();
        var timestamps = Timestamps is null ? null : new List<long[]>();
        for (int u = 0; u < Sequences.Count; u++)
        {
            int[] s = Sequences[u];
            var positions = Enumerable.Range(0, s.Length).Where(k => keep[s[k]] >= 0).ToArray();
            if (positions.Length > 0)
            {
                users.Add(Users[u]);
                sequences.Add(positions.Select(k => keep[s[k]]).ToArray());
                timestamps?.Add(positions.Select(k => Timestamps![u][k]).ToArray());
            }
        }

        return new InteractionDataset($"{Name}/{domain}", items, users, sequences, timestamps, Warnings);
    }

    /// <summary>Builds a dataset from in-memory records (tests, generated data).</summary>
    public static InteractionDataset Create(string name, IReadOnlyList<CatalogItem> items, IEnumerable<UserSequence> users, BadRecordPolicy policy = BadRecordPolicy.Fail) =>
        Build(name, items, users.Select((u, i) => (u, (long)i + 1)), "(memory)", policy, []);

    /// <summary>Builds a dataset from a reader's records, adding the reader's own warnings first.</summary>
    internal static InteractionDataset FromReader(string name, IReadOnlyList<CatalogItem> items, IEnumerable<UserSequence> users, string source, BadRecordPolicy policy,
        IEnumerable<string> readerWarnings) =>
        Build(name, items, users.Select((u, i) => (u, (long)i + 1)), source, policy, readerWarnings);

    /// <summary>
    /// Reads a folder in the normalized layout (<c>items.tsv</c>, <c>sequences.jsonl</c>). Unknown item ids in sequences
    /// and empty histories are handled by <paramref name="policy"/>.
    /// </summary>
    public static InteractionDataset Load(string folder, BadRecordPolicy policy = BadRecordPolicy.Fail)
    {
        string itemsPath = Path.Combine(folder, "items.tsv"), seqPath = Path.Combine(folder, "sequences.jsonl");
        foreach (string p in (string[])[itemsPath, seqPath])
        {
            if (!File.Exists(p))
            {
                throw new FileNotFoundException($"{folder}: missing {Path.GetFileName(p)} (expected the normalized layout: items.tsv and sequences.jsonl).", p);
            }
        }

        var skipped = new List<string>();
        var items = NormalizedDataset.ReadItems(itemsPath, policy, skipped).ToList();
        return Build(Path.GetFileName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar)), items,
            NormalizedDataset.ReadSequences(seqPath, policy, skipped), seqPath, policy, Skipped(skipped));
    }

    // Read lazily by Build after the records: how many malformed records were skipped, and the first few.
    private static IEnumerable<string> Skipped(List<string> skipped)
    {
        if (skipped.Count > 0)
        {
            yield return $"{skipped.Count} malformed records skipped";
            foreach (string s in skipped.Take(5))
            {
                yield return s;
            }
        }
    }

    private static InteractionDataset Build(string name, IReadOnlyList<CatalogItem> items, IEnumerable<(UserSequence User, long Line)> users, string source, BadRecordPolicy policy,
        IEnumerable<string> readerWarnings)
    {
        // A 'domain=' attribute tags the item's domain when the source did not set one directly.
        items = items.Select(i => i.Domain is null && i.Attribute("domain") is string d ? i with { Domain = d } : i).ToList();
        var index = new Dictionary<string, int>(items.Count, StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++)
        {
            if (!index.TryAdd(items[i].Id, i))
            {
                throw new DataFormatException(source, i + 2, "item_id", $"duplicated item id '{items[i].Id}'");
            }
        }

        var userIds = new List<string>();
        var sequences = new List<int[]>();
        var timestamps = new List<long[]>();
        bool allTimed = true;
        // The reader's warnings are read after the records (a lazy reader only knows them then) and go first.
        var warnings = new List<string>();
        var seenUsers = new HashSet<string>(StringComparer.Ordinal);
        long unknown = 0, empty = 0;
        foreach ((UserSequence u, long line) in users)
        {
            if (!seenUsers.Add(u.User))
            {
                throw new DataFormatException(source, line, "user", $"duplicated user id '{u.User}'");
            }

            var seq = new List<int>(u.Items.Count);
            var ts = new List<long>(u.Items.Count);
            for (int k = 0; k < u.Items.Count; k++)
            {
                string id = u.Items[k];
                if (index.TryGetValue(id, out int i))
                {
                    seq.Add(i);
                    if (u.Timestamps is not null)
                    {
                        ts.Add(u.Timestamps[k]);
                    }

                    continue;
                }

                if (policy == BadRecordPolicy.Fail)
                {
                    throw new DataFormatException(source, line, "items", $"item id '{id}' is not in the catalogue");
                }

                if (unknown++ < 5)
                {
                    warnings.Add($"{source}:{line}: field 'items': unknown item id '{id}' skipped");
                }
            }

            if (seq.Count == 0)
            {
                if (policy == BadRecordPolicy.Fail)
                {
                    throw new DataFormatException(source, line, "items", $"user '{u.User}' has an empty history");
                }

                empty++;
                continue;
            }

            userIds.Add(u.User);
            sequences.Add([.. seq]);
            allTimed &= u.Timestamps is not null;
            timestamps.Add([.. ts]);
        }

        warnings.InsertRange(0, readerWarnings);
        if (unknown > 0)
        {
            warnings.Insert(0, $"{unknown} interactions with unknown item ids skipped");
        }

        var untitled = items.Where(i => string.IsNullOrWhiteSpace(i.Title)).Select(i => i.Id).ToList();
        if (untitled.Count > 0 && untitled.Count < items.Count)
        {
            warnings.Add($"{untitled.Count} items have empty titles (first: {string.Join(", ", untitled.Take(5))}); their text is the attributes alone");
        }

        if (empty > 0)
        {
            warnings.Add($"{empty} users with empty histories skipped");
        }

        return new InteractionDataset(name, items, userIds, sequences, allTimed ? timestamps : null, warnings);
    }
}
