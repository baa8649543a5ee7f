using CalRec.Bench;
using CalRec.Data.Synthetic;
using CalRec.Text.Retrieval;

namespace CalRec.Text.Tests;

[TestFixture]
public class Bm25Tests
{
    private static Bm25Index Small()
    {
        var index = new Bm25Index();
        index.AddRange(["red apple", "green apple pie apple", "red car", "blue sky", "green tea"]);
        return index;
    }

    [Test]
    public void ScoresMatchHandComputedValues()
    {
        // N = 5, avgdl = 12 / 5; idf(apple) = idf(green) = ln(3.5 / 2.5); k1 = 1.2, b = 0.75.
        Bm25Index index = Small();
        double idf = Math.Log(3.5 / 2.5);
        double d1Apple = idf * 2 * 2.2 / (2 + (1.2 * (0.25 + (0.75 * 4 / 2.4))));
        double d0Apple = idf * 2.2 / (1 + (1.2 * (0.25 + (0.75 * 2 / 2.4))));
        double d1Green = idf * 2.2 / (1 + (1.2 * (0.25 + (0.75 * 4 / 2.4))));
        Assert.That(d1Apple, Is.EqualTo(0.389599).Within(1e-6));
        Assert.That(index.Score("apple", 1), Is.EqualTo(d1Apple).Within(1e-6));
        Assert.That(index.Score("apple", 0), Is.EqualTo(d0Apple).Within(1e-6));
        Assert.That(index.Score("apple", 3), Is.EqualTo(0f));

        IReadOnlyList<Bm25Hit> hits = index.Search("Green APPLE!", 10);
        Assert.That(hits.Select(h => h.Document), Is.EqualTo(new[] { 1, 0, 4 }), "d0 and d4 tie; the lower index comes first");
        Assert.That(hits[0].Score, Is.EqualTo(d1Apple + d1Green).Within(1e-5));
        Assert.That(hits[1].Score, Is.EqualTo(hits[2].Score));
        Assert.That(index.Search("green apple", 1).Single().Document, Is.EqualTo(1));
        Assert.That(index.Search("nothing here", 5), Is.Empty);

        // A term in more than half of the documents gets FTS5's floor idf of 1e-6 instead of a negative weight.
        var common = new Bm25Index();
        common.AddRange(["a b", "a c", "a d"]);
        Assert.That(common.Score("a", 0), Is.EqualTo(1e-6f * 2.2f / (1 + 1.2f)).Within(1e-9));
    }

    [Test]
    public void AddingDocumentsUpdatesStatisticsAndSaveLoadRoundTrips()
    {
        Bm25Index index = Small();
        float before = index.Score("apple", 0);
        index.Add("apple crème brûlée");
        Assert.That(index.Count, Is.EqualTo(6));
        Assert.That(index.Score("apple", 0), Is.Not.EqualTo(before), "N, n and avgdl changed");
        Assert.That(index.Search("creme brulee", 3).Single().Document, Is.EqualTo(5), "diacritics are folded like FTS5's unicode61");

        using var stream = new MemoryStream();
        index.Save(stream);
        stream.Position = 0;
        Bm25Index loaded = Bm25Index.Load(stream, "test.bm25");
        foreach (string q in (string[])["apple", "green tea", "red car apple", "creme"])
        {
            Assert.That(loaded.Search(q, 10), Is.EqualTo(index.Search(q, 10)));
        }

        loaded.Add("another apple");
        Assert.That(loaded.Search("another", 1).Single().Document, Is.EqualTo(6));
        byte[] bytes = stream.ToArray();
        Assert.That(() => Bm25Index.Load(new MemoryStream(bytes[..(bytes.Length - 3)]), "test.bm25"),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("test.bm25").And.Message.Contains("truncated"));
    }

    [Test]
    public void TopResultsAgreeWithSqliteFts5Bm25()
    {
        var catalog = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 3, UsersPerDomain = 5 });
        var texts = catalog.Items.Select(i => i.ToText()).ToList();
        texts.AddRange(["Crème brûlée kit, café edition", "Naïve façade cleanser (travel size)", "C-3PO's gel pen: 3-pack!"]);
        var index = new Bm25Index();
        index.AddRange(texts);

        using var fts5 = new SqliteFullTextIndex(texts, 10);

        string[] queries =
        [
            "gentle cleanser", "hydrating serum 50 ml", "notebook pack of 3", "steel chef knife", "creme brulee cafe", "naive facade",
            "3 pack gel pen", "matte sunscreen travel size", "bamboo cutting board large", "premium stapler", "daily toner", "soothing night cream",
            catalog.Items[7].ToText(), catalog.Items[100].Title, catalog.Items[150].Brand + " whisk",
        ];
        int compared = 0;
        foreach (string q in queries)
        {
            IReadOnlyList<Bm25Hit> ours = index.Search(q, 10);
            List<(int Doc, double Score)> fts = fts5.Search(WordAnalyzer.Terms(q));
            Assert.That(ours, Has.Count.EqualTo(fts.Count), q);
            for (int i = 0; i < fts.Count; i++)
            {
                Assert.That(ours[i].Score, Is.EqualTo(fts[i].Score).Within(1e-4 * Math.Max(1, Math.Abs(fts[i].Score))), $"'{q}' rank {i + 1}");
            }

            // Documents with equal scores may come in either order: compare the set at each score, except the last
            // score when the LIMIT may have cut its group.
            foreach (var group in fts.GroupBy(x => Math.Round(x.Score, 4)))
            {
                if (fts.Count == 10 && Math.Abs(group.Key - fts[^1].Score) < 1e-3)
                {
                    continue;
                }

                var ourDocs = ours.Where(h => Math.Abs(h.Score - group.Key) < 1e-3).Select(h => h.Document);
                Assert.That(ourDocs, Is.EquivalentTo(group.Select(x => x.Doc)), $"'{q}' documents scoring {group.Key}");
                compared += group.Count();
            }
        }

        Assert.That(compared, Is.GreaterThan(30), "enough untied ranks were compared");
    }
}
