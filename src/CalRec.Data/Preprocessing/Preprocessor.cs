using CalRec.Data;

namespace CalRec.Data.Preprocessing;

/// <summary>Settings of <see cref="Preprocessor.Apply"/>.</summary>
public sealed record PreprocessingOptions
{
    /// <summary>Drop an item that repeats the previous item of the same history.</summary>
    public bool RemoveConsecutiveDuplicates { get; init; } = true;

    /// <summary>Iterative k-core: repeat dropping users and items with fewer than this many interactions (0 or 1: off).</summary>
    public int KCore { get; init; }

    /// <summary>Keep only the most recent items of each history (0: all).</summary>
    public int MaxHistory { get; init; }
}

/// <summary>Cleans a dataset: duplicate removal, iterative k-core, history truncation. Item order is kept; dropped items leave the catalogue.</summary>
public static class Preprocessor
{
    /// <summary>Returns the cleaned dataset.</summary>
    public static InteractionDataset Apply(InteractionDataset data, PreprocessingOptions options)
    {
        var users = new List<(string User, List<int> Items, List<long>? Times)>();
        for (int u = 0; u < data.Sequences.Count; u++)
        {
            var seq = new List<int>(data.Sequences[u].Length);
            List<long>? times = data.Timestamps is null ? null : new List<long>(data.Sequences[u].Length);
            for (int k = 0; k < data.Sequences[u].Length; k++)
            {
                int i = data.Sequences[u][k];
                if (!(options.RemoveConsecutiveDuplicates && seq.Count > 0 && seq[^1] == i))
                {
                    seq.Add(i);
                    times?.Add(data.Timestamps![u][k]);
                }
            }

            users.Add((data.Users[u], seq, times));
        }

        bool[] keepItem = Enumerable.Repeat(true, data.ItemCount).ToArray();
        if (options.KCore > 1)
        {
            bool changed = true;
            while (changed)
            {
                changed = false;
                int[] counts = new int[data.ItemCount];
                foreach ((_, List<int> history, _) in users)
                {
                    foreach (int i in history)
                    {
                        counts[i]++;
                    }
                }

                for (int i = 0; i < counts.Length; i++)
                {
                    if (keepItem[i] && counts[i] < options.KCore)
                    {
                        keepItem[i] = false;
                        changed = true;
                    }
                }

                for (int u = users.Count - 1; u >= 0; u--)
                {
                    int before = users[u].Items.Count;
                    if (users[u].Times is { } times)
                    {
                        var kept = users[u].Items.Zip(times).Where(p => keepItem[p.First]).ToList();
                        times.Clear();
                        times.AddRange(kept.Select(p => p.Second));
                    }

                    users[u].Items.RemoveAll(i => !keepItem[i]);
                    if (users[u].Items.Count < options.KCore)
                    {
                        users.RemoveAt(u);
                        changed = true;
                    }
                    else if (users[u].Items.Count != before)
                    {
                        changed = true;
                    }
                }
            }
        }

        var items = new List<CatalogItem>();
        for (int i = 0; i < data.ItemCount; i++)
        {
            if (keepItem[i])
            {
                items.Add(data.Items[i]);
            }
        }

        return InteractionDataset.Create(data.Name, items, users.Where(u => u.Items.Count > 0).Select(u =>
        {
            int skip = options.MaxHistory > 0 ? Math.Max(0, u.Items.Count - options.MaxHistory) : 0;
            return new UserSequence(u.User, u.Items.Skip(skip).Select(i => data.Items[i].Id).ToList(), u.Times?.Skip(skip).ToList());
        }));
    }
}
