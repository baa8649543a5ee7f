using CalRec.Data.Readers;

namespace CalRec.Data.Tests;

public sealed class NormalizedItemsTests
{
    [Test]
    public void ItemsReadBackExactlyAsWrittenDomainsIncluded()
    {
        string path = Path.Combine(Path.GetTempPath(), $"items-{Guid.NewGuid():N}.tsv");
        try
        {
            CatalogItem[] items =
            [
                new("a", "Cleanser", "brand=vepe", "beauty"),
                new("b", "Stapler", "brand=olo; domain=office", "office"),
                new("c", "No domain", ""),
            ];
            NormalizedDataset.WriteItems(path, items);
            var back = NormalizedDataset.ReadItems(path).ToList();

            Assert.That(back, Is.EqualTo(items));
            Assert.That(back.Select(i => i.ToText()), Is.EqualTo(items.Select(i => i.ToText())), "the item text (what the LM reads) is unchanged");

            // Files of the earlier three-column layout still read, their domain from the attribute.
            File.WriteAllText(path, "item_id\ttitle\textra\nx\tPen\tdomain=office\n");
            Assert.That(NormalizedDataset.ReadItems(path).Single().Domain, Is.EqualTo("office"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
