using System.IO.Compression;
using System.Text;
using CalRec.Data;
using CalRec.Data.Readers;
using CalRec.Data.Storage;

namespace CalRec.Data.Tests;

[TestFixture]
public class FormatReaderTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "calrec-formats-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private static string[] Ids(InteractionDataset d, int user) => d.Sequences[user].Select(i => d.Items[i].Id).ToArray();

    [Test]
    public void MovieLens100KReadsLatin1TitlesGenresAndOrdersByTime()
    {
        string folder = Path.Combine(_dir, "ml");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "u.data"), "1\t2\t5\t300\n1\t1\t4\t100\n1\t3\t2\t100\n2\t1\t5\t50\n");
        string flags(params int[] on) => string.Join('|', Enumerable.Range(0, 19).Select(k => on.Contains(k) ? "1" : "0"));
        File.WriteAllText(Path.Combine(folder, "u.item"),
            $"1|Toy Story (1995)|01-Jan-1995||http://x|{flags(3, 4, 5)}\n2|Cité des enfants perdus, La (1995)|01-Jan-1995||http://x|{flags(8)}\n3|Heat (1995)|01-Jan-1995||http://x|{flags(1)}\n",
            Encoding.Latin1);
        InteractionDataset d = DatasetReader.Load(folder);
        Assert.That(DatasetReader.Detect(folder), Is.EqualTo(DatasetFormat.MovieLens));
        Assert.That(Ids(d, 0), Is.EqualTo(new[] { "1", "3", "2" }), "ties keep file order");
        Assert.That(d.Items[1].Title, Is.EqualTo("Cité des enfants perdus, La"));
        Assert.That(d.Items[0].ToText(), Is.EqualTo("title: Toy Story; year: 1995; genres: Animation Children's Comedy"));
        Assert.That(d.Timestamps![0], Is.EqualTo(new long[] { 100, 100, 300 }));
        InteractionDataset liked = MovieLensReader.Load(folder, minRating: 4);
        Assert.That(Ids(liked, 0), Is.EqualTo(new[] { "1", "2" }));
    }

    [Test]
    public void MovieLens1MReadsDoubleColonFiles()
    {
        string folder = Path.Combine(_dir, "ml-1m");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "ratings.dat"), "1::20::5::978300760\n1::10::3::978300700\n");
        File.WriteAllText(Path.Combine(folder, "movies.dat"), "10::GoldenEye (1995)::Action|Adventure|Thriller\n20::Heat (1995)::Action|Crime\n", Encoding.Latin1);
        InteractionDataset d = DatasetReader.Load(folder);
        Assert.That(Ids(d, 0), Is.EqualTo(new[] { "10", "20" }));
        Assert.That(d.Items[0].ToText(), Is.EqualTo("title: GoldenEye; year: 1995; genres: Action Adventure Thriller"));
        File.AppendAllText(Path.Combine(folder, "ratings.dat"), "2::99::4::978300800\n");
        var ex = Assert.Throws<DataFormatException>(() => DatasetReader.Load(folder))!;
        Assert.That(ex.Message, Does.Contain("ratings.dat:3: field 'item_id'").And.Contain("'99'"));
        InteractionDataset skipped = DatasetReader.Load(folder, new DatasetReadOptions { Policy = BadRecordPolicy.Skip });
        Assert.That(skipped.Users, Has.Count.EqualTo(1));
        Assert.That(skipped.Warnings[0], Does.StartWith("1 bad records skipped (ratings.dat field 'item_id': 1)"));
        Assert.That(skipped.Warnings[1], Does.Contain("ratings.dat:3"));
    }

    [Test]
    public void AmazonReviewsWithPythonLiteralMetadataAndGzip()
    {
        string reviews = Path.Combine(_dir, "reviews_Toy.json.gz");
        using (var gz = new GZipStream(File.Create(reviews), CompressionLevel.Fastest))
        using (var w = new StreamWriter(gz))
        {
            w.WriteLine("""{"reviewerID": "U1", "asin": "B2", "overall": 5.0, "unixReviewTime": 200}""");
            w.WriteLine("""{"reviewerID": "U1", "asin": "B1", "overall": 2.0, "unixReviewTime": 100}""");
            w.WriteLine("""{"reviewerID": "U2", "asin": "B1", "overall": 4.0, "unixReviewTime": 150}""");
        }

        File.WriteAllText(Path.Combine(_dir, "meta_Toy.json"),
            "{'asin': 'B1', 'title': 'Rose \\'n\\' Lily Soap', 'price': 1e-05, 'categories': [['Beauty', 'Bath', 'Soaps']], 'brand': 'Acme', 'x': None}\n"
            + "{\"asin\": \"B2\", \"title\": \"Tape; clear\", \"category\": [\"Office Products\", \"Tape\"], \"brand\": \"\"}\n");
        InteractionDataset d = DatasetReader.Load(reviews);
        Assert.That(DatasetReader.Detect(reviews), Is.EqualTo(DatasetFormat.AmazonReviews));
        Assert.That(Ids(d, 0), Is.EqualTo(new[] { "B1", "B2" }));
        Assert.That(d.Items[0].Title, Is.EqualTo("Rose 'n' Lily Soap"));
        Assert.That(d.Items[0].ToText(), Is.EqualTo("title: Rose 'n' Lily Soap; category: Soaps; brand: Acme"));
        Assert.That(d.DomainOf(0), Is.EqualTo("Beauty"));
        Assert.That(d.DomainOf(1), Is.EqualTo("Office Products"));
        Assert.That(d.Items[1].Title, Is.EqualTo("Tape, clear"), "separators of the normalized layout are replaced");
        Assert.That(AmazonReviewReader.Load(reviews, Path.Combine(_dir, "meta_Toy.json"), minRating: 4).Sequences[0], Has.Length.EqualTo(1));
    }

    [Test]
    public void SkipBadLeavesOutMalformedLinesOfEveryReaderWithFileAndLine()
    {
        // Amazon reviews: a line that is not JSON, and one with invalid UTF-8.
        string reviews = Path.Combine(_dir, "reviews_Toy.json");
        using (FileStream f = File.Create(reviews))
        {
            f.Write(Encoding.UTF8.GetBytes("{\"reviewerID\": \"U1\", \"asin\": \"B1\", \"overall\": 5.0, \"unixReviewTime\": 100}\n{\"reviewerID\": \"U1\", \"asin\n"));
            f.Write([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D, 0x0A]);
            f.Write(Encoding.UTF8.GetBytes("{\"reviewerID\": \"U1\", \"asin\": \"B2\", \"overall\": 4.0, \"unixReviewTime\": 200}\n"));
        }

        File.WriteAllText(Path.Combine(_dir, "meta_Toy.json"), "{\"asin\": \"B1\", \"title\": \"Soap\"}\n{\"asin\": \"B2\", \"title\": \"Tape\"}\n");
        Assert.That(Assert.Throws<DataFormatException>(() => DatasetReader.Load(reviews))!.Message, Does.Contain("reviews_Toy.json:2"));
        InteractionDataset amazon = DatasetReader.Load(reviews, new DatasetReadOptions { Policy = BadRecordPolicy.Skip });
        Assert.That(Ids(amazon, 0), Is.EqualTo(new[] { "B1", "B2" }));
        Assert.That(string.Join("\n", amazon.Warnings), Does.Contain("reviews_Toy.json:2").And.Contain("reviews_Toy.json:3"));

        // CSV: a row with a bad timestamp and a row with too few columns.
        string events = Path.Combine(_dir, "events.csv");
        File.WriteAllText(events, "user,item,ts\nu1,i1,100\nu1,i2,yesterday\nu1\nu1,i3,300\n");
        ColumnMap map = ColumnMap.Parse("user=user, item=item, timestamp=ts");
        Assert.Throws<DataFormatException>(() => DelimitedReader.Load(events, map));
        InteractionDataset csv = DatasetReader.Load(events, new DatasetReadOptions { Columns = map, Policy = BadRecordPolicy.Skip });
        Assert.That(Ids(csv, 0), Is.EqualTo(new[] { "i1", "i3" }));
        Assert.That(string.Join("\n", csv.Warnings), Does.Contain("events.csv:3").And.Contain("events.csv:4"));
    }

    [Test]
    public void DelimitedFileWithColumnMapQuotedFieldsAndIsoDates()
    {
        File.WriteAllText(Path.Combine(_dir, "events.csv"),
            "who,what,when,stars,shop\nu1,i2,2024-01-02T00:00:00Z,5,toys\nu1,i1,2024-01-01,4,books\n\"u,2\",i1,1704067200,3,books\n");
        File.WriteAllText(Path.Combine(_dir, "catalog.csv"),
            "id,name,brand,color\ni1,\"The \"\"Big\"\" Book,\nsecond line\",Acme,red\ni2,Kite,Sky,\n");
        ColumnMap map = ColumnMap.Parse("user=who, item=what, timestamp=when, rating=stars, domain=shop, items=catalog.csv, item_id=id, title=name");
        InteractionDataset d = DatasetReader.Load(Path.Combine(_dir, "events.csv"), new DatasetReadOptions { Columns = map });
        Assert.That(d.Users, Is.EqualTo(new[] { "u1", "u,2" }));
        Assert.That(Ids(d, 0), Is.EqualTo(new[] { "i1", "i2" }));
        Assert.That(d.Timestamps![0], Is.EqualTo(new long[] { 1704067200, 1704153600 }));
        Assert.That(d.Items[0].Title, Is.EqualTo("The \"Big\" Book, second line"));
        Assert.That(d.Items[0].ToText(), Is.EqualTo("title: The \"Big\" Book, second line; brand: Acme; color: red"));
        Assert.That(d.DomainOf(0), Is.EqualTo("books"));
        Assert.That(d.DomainOf(1), Is.EqualTo("toys"));
        Assert.That(DatasetReader.Load(Path.Combine(_dir, "events.csv"), new DatasetReadOptions { Columns = map, MinRating = 4 }).Users, Has.Count.EqualTo(1));

        var missing = Assert.Throws<DataFormatException>(() => DelimitedReader.Load(Path.Combine(_dir, "events.csv"), map with { RatingColumnName = "score" }))!;
        Assert.That(missing.Message, Does.Contain("events.csv:1: field 'score': missing column 'score'"));
        File.AppendAllText(Path.Combine(_dir, "events.csv"), "u3,i2,yesterday-ish,5,toys\n");
        var badTime = Assert.Throws<DataFormatException>(() => DelimitedReader.Load(Path.Combine(_dir, "events.csv"), map))!;
        Assert.That(badTime.Message, Does.Contain("events.csv:5: field 'when'"));
        Assert.Throws<FormatException>(() => ColumnMap.Parse("usr=who"));
    }

    [Test]
    public void InvalidUtf8IsReportedWithItsLine()
    {
        string path = Path.Combine(_dir, "bad.tsv");
        File.WriteAllBytes(path, [.. "user_id\titem_id\ttimestamp\nu1\ti1\t1\nu1\t"u8, 0xC3, 0x28, .. "\t2\n"u8]);
        var ex = Assert.Throws<DataFormatException>(() => DatasetReader.Load(path))!;
        Assert.That(ex.Message, Does.Contain("bad.tsv:3: field '(line)': not valid UTF-8"));
    }

    [Test]
    public void SqliteStoreRoundTripsEverythingAndRejectsForeignFiles()
    {
        var items = new List<CatalogItem> { new("a", "Alpha", "brand=X", "books"), new("b", "Beta", string.Empty), new("c", "Gamma", "k=v; z=1", "toys") };
        InteractionDataset d = InteractionDataset.Create("shop", items,
            [new UserSequence("u1", ["a", "c", "b"], [10, 20, 30]), new UserSequence("u2", ["c"], [5])]);
        string db = Path.Combine(_dir, "shop.db");
        SqliteStore.Save(d, db);
        SqliteStore.Save(d, db);
        Assert.That(Directory.GetFiles(_dir), Is.EqualTo(new[] { db }), "no temporary file is left behind");
        InteractionDataset back = DatasetReader.Load(db);
        Assert.That(back.Name, Is.EqualTo("shop"));
        Assert.That(back.Items, Is.EqualTo(items));
        Assert.That(back.Users, Is.EqualTo(d.Users));
        Assert.That(back.Sequences, Is.EqualTo(d.Sequences));
        Assert.That(back.Timestamps, Is.EqualTo(d.Timestamps));
        Assert.That(back.DomainOf(1), Is.EqualTo("shop"));

        string junk = Path.Combine(_dir, "junk.db");
        File.WriteAllText(junk, "this is not a database");
        Assert.That(Assert.Throws<DataFormatException>(() => DatasetReader.Load(junk))!.Message, Does.Contain("junk.db").And.Contain("not a CalRec dataset database"));
    }

    [Test]
    public void DetectionNamesWhatItCannotRead()
    {
        Assert.Throws<DirectoryNotFoundException>(() => DatasetReader.Detect(Path.Combine(_dir, "nope")));
        Assert.That(Assert.Throws<NotSupportedException>(() => DatasetReader.Detect(_dir))!.Message, Does.Contain("not a dataset folder"));
        File.WriteAllText(Path.Combine(_dir, "x.parquet"), string.Empty);
        Assert.Throws<NotSupportedException>(() => DatasetReader.Detect(Path.Combine(_dir, "x.parquet")));
    }

    [Test]
    public void StatisticsPerDomainRestrictHistoriesToTheDomain()
    {
        var items = new List<CatalogItem> { new("a", "A", string.Empty, "d1"), new("b", "B", string.Empty, "d2"), new("c", "C", string.Empty, "d2") };
        InteractionDataset d = InteractionDataset.Create("x", items,
            [new UserSequence("u1", ["a", "b", "c"], null), new UserSequence("u2", ["b"], null)]);
        var byDomain = DatasetStatistics.ByDomain(d).ToDictionary(x => x.Domain, x => x.Statistics);
        Assert.That(byDomain["d1"].Users, Is.EqualTo(1));
        Assert.That(byDomain["d1"].Interactions, Is.EqualTo(1));
        Assert.That(byDomain["d2"].Users, Is.EqualTo(2));
        Assert.That(byDomain["d2"].Items, Is.EqualTo(2));
        Assert.That(byDomain["d2"].Interactions, Is.EqualTo(3));
        Assert.That(byDomain["d2"].Density, Is.EqualTo(3.0 / 4).Within(1e-12));
        Assert.That(byDomain["d2"].LengthPercentiles[^1], Is.EqualTo(2));
    }
}
