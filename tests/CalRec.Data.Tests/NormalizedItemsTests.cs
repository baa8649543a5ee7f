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

public sealed class SkipBadRecordsTests
{
    [Test]
    public void SkipLeavesOutMalformedLinesAndRowsAndSaysWhichFailStopsAtTheFirst()
    {
        string folder = Directory.CreateTempSubdirectory("skip-bad-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "items.tsv"), "item_id\ttitle\textra\na\tA\t\nonly-one-column\n\tno id\t\nb\tB\t\na\tdup\t\n");
            File.WriteAllText(Path.Combine(folder, "sequences.jsonl"), "{\"user\": \"u1\", \"items\": [\"a\", \"b\", \"a\"]}\n{not json\n{\"user\": \"u2\", \"items\": \"b\"}\n{\"user\": \"u3\", \"items\": [\"b\", \"a\", \"b\"]}\n");
            // A line of invalid UTF-8 at the end (line 5).
            using (FileStream f = new(Path.Combine(folder, "sequences.jsonl"), FileMode.Append))
            {
                f.Write([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x7D, 0x0A]);
            }

            InteractionDataset d = InteractionDataset.Load(folder, BadRecordPolicy.Skip);
            Assert.That(d.Items.Select(i => i.Id), Is.EqualTo(new[] { "a", "b" }));
            Assert.That(d.Users, Is.EqualTo(new[] { "u1", "u3" }));
            Assert.That(d.Warnings[0], Is.EqualTo("6 malformed records skipped"), "the five above (the first five are listed) and the invalid UTF-8 line");
            Assert.That(d.Warnings, Has.Some.StartsWith(Path.Combine(folder, "items.tsv") + ":3: field 'title'")
                .And.Some.StartsWith(Path.Combine(folder, "sequences.jsonl") + ":2: field '(line)': not valid JSON")
                .And.Some.StartsWith(Path.Combine(folder, "sequences.jsonl") + ":3: field 'items'"));

            var error = Assert.Throws<DataFormatException>(() => InteractionDataset.Load(folder))!;
            Assert.That(error.Message, Does.StartWith(Path.Combine(folder, "items.tsv") + ":3:"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
