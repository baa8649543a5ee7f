using System.Text;
using CalRec.Data;

namespace CalRec.Recommenders.Tests;

[TestFixture]
public class DatasetTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "calrec-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private void Write(string items, string sequences)
    {
        File.WriteAllText(Path.Combine(_dir, "items.tsv"), items);
        File.WriteAllText(Path.Combine(_dir, "sequences.jsonl"), sequences);
    }

    [Test]
    public void LoadsTheNormalizedLayout()
    {
        Write("item_id\ttitle\textra\n1\tToy Story\tyear=1995; genres=Animation\n2\tHeat\tyear=1995\n",
            "{\"user\": \"u1\", \"items\": [\"1\", \"2\"], \"ts\": [10, 20]}\n{\"user\": \"u2\", \"items\": [\"2\"], \"ts\": null}\n");
        InteractionDataset d = InteractionDataset.Load(_dir);
        Assert.That(d.ItemCount, Is.EqualTo(2));
        Assert.That(d.Sequences[0], Is.EqualTo(new[] { 0, 1 }));
        Assert.That(d.InteractionCount, Is.EqualTo(3));
        Assert.That(d.Items[0].ToText(), Is.EqualTo("title: Toy Story; year: 1995; genres: Animation"));
    }

    [Test]
    public void UnknownItemFailsWithFileLineAndFieldOrIsSkippedWithAWarning()
    {
        Write("item_id\ttitle\textra\n1\tA\t\n", "{\"user\": \"u1\", \"items\": [\"1\"]}\n{\"user\": \"u2\", \"items\": [\"1\", \"9\"]}\n{\"user\": \"u3\", \"items\": [\"8\"]}\n");
        var ex = Assert.Throws<DataFormatException>(() => InteractionDataset.Load(_dir));
        Assert.That(ex!.Message, Does.Contain("sequences.jsonl:2: field 'items'").And.Contain("'9'"));
        InteractionDataset d = InteractionDataset.Load(_dir, BadRecordPolicy.Skip);
        Assert.That(d.Users, Is.EqualTo(new[] { "u1", "u2" }));
        Assert.That(d.Warnings[0], Does.Contain("2 interactions with unknown item ids skipped"));
        Assert.That(d.Warnings.Last(), Does.Contain("1 users with empty histories skipped"));
    }

    [TestCase("title\titem_id\textra\n", "header")]
    [TestCase("item_id\ttitle\textra\n1\tA\t\n1\tB\t\n", "duplicated item id '1'")]
    [TestCase("item_id\ttitle\textra\n\tA\t\n", "empty item id")]
    [TestCase("item_id\ttitle\textra\nonly-one-column\n", "expected 3 tab-separated columns")]
    public void BadCatalogueLinesAreNamed(string items, string expected)
    {
        Write(items, string.Empty);
        Assert.That(Assert.Throws<DataFormatException>(() => InteractionDataset.Load(_dir))!.Message, Does.Contain(expected).And.Contain("items.tsv"));
    }

    [TestCase("{\"user\": \"u\", \"items\": [\"1\"]\n", "not valid JSON")]
    [TestCase("{\"items\": [\"1\"]}\n", "field 'user'")]
    [TestCase("{\"user\": \"u\", \"items\": [\"1\"], \"ts\": [1, 2]}\n", "2 timestamps for 1 items")]
    [TestCase("{\"user\": \"u\", \"items\": [\"1\"]}\n{\"user\": \"u\", \"items\": [\"1\"]}\n", "duplicated user id 'u'")]
    public void BadSequenceLinesAreNamed(string sequences, string expected)
    {
        Write("item_id\ttitle\textra\n1\tA\t\n", sequences);
        Assert.That(Assert.Throws<DataFormatException>(() => InteractionDataset.Load(_dir))!.Message, Does.Contain(expected).And.Contain("sequences.jsonl"));
    }

    [Test]
    public void InvalidUtf8IsNamed()
    {
        File.WriteAllBytes(Path.Combine(_dir, "items.tsv"), [.. Encoding.UTF8.GetBytes("item_id\ttitle\textra\n1\t"), 0xC3, 0x28, (byte)'\n']);
        File.WriteAllText(Path.Combine(_dir, "sequences.jsonl"), string.Empty);
        Assert.That(Assert.Throws<DataFormatException>(() => InteractionDataset.Load(_dir))!.Message, Does.Contain("items.tsv:2: field '(line)': not valid UTF-8"));
    }

    [Test]
    public void MissingFilesAreNamed() =>
        Assert.That(Assert.Throws<FileNotFoundException>(() => InteractionDataset.Load(_dir))!.Message, Does.Contain("missing items.tsv"));
}
