using CalRec.Data;
using CalRec.Data.Readers;
using CalRec.Data.Storage;

namespace CalRec.Data.Tests;

/// <summary>Checks against the real datasets in ../shared/data; skipped (with the reason) on a clone without them.</summary>
[TestFixture]
public class SharedDataTests
{
    private static string Ml100K()
    {
        for (string? dir = TestContext.CurrentContext.TestDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            string candidate = Path.Combine(dir, "..", "shared", "data", "ml-100k");
            if (Directory.Exists(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }

        Assert.Ignore("../shared/data/ml-100k is not beside this checkout (real-data checks run only where the shared datasets are).");
        return string.Empty;
    }

    [Test]
    public void RecBoleFilesAndTheNormalizedLayoutDescribeTheSameHistories()
    {
        string folder = Ml100K();
        InteractionDataset normalized = DatasetReader.Load(folder);
        InteractionDataset recbole = DatasetReader.Load(folder, new DatasetReadOptions { Format = DatasetFormat.RecBole });
        Assert.That(DatasetReader.Detect(folder), Is.EqualTo(DatasetFormat.Normalized));
        Assert.That((recbole.Users.Count, recbole.ItemCount, recbole.InteractionCount), Is.EqualTo((943, 1682, 100_000L)));
        var byUser = recbole.Users.Select((u, k) => (u, k)).ToDictionary(x => x.u, x => x.k);
        for (int u = 0; u < normalized.Users.Count; u++)
        {
            int[] a = normalized.Sequences[u], b = recbole.Sequences[byUser[normalized.Users[u]]];
            Assert.That(b.Select(i => recbole.Items[i].Id), Is.EqualTo(a.Select(i => normalized.Items[i].Id)), $"user {normalized.Users[u]}");
        }
    }

    [Test]
    public void SqliteStoreRoundTripsTheRealDataset()
    {
        InteractionDataset data = DatasetReader.Load(Ml100K());
        string db = Path.Combine(Path.GetTempPath(), $"calrec-ml100k-{Guid.NewGuid():N}.db");
        try
        {
            SqliteStore.Save(data, db);
            InteractionDataset back = DatasetReader.Load(db);
            Assert.That(back.Items, Is.EqualTo(data.Items));
            Assert.That(back.Users, Is.EqualTo(data.Users));
            Assert.That(back.Sequences, Is.EqualTo(data.Sequences));
            Assert.That(back.Timestamps, Is.EqualTo(data.Timestamps));
        }
        finally
        {
            File.Delete(db);
        }
    }
}
