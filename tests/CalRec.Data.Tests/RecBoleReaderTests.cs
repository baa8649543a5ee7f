using CalRec.Data;
using CalRec.Data.Readers;

namespace CalRec.Data.Tests;

[TestFixture]
public class RecBoleReaderTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "calrec-recbole-" + Guid.NewGuid().ToString("N"), "toy");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(Path.GetDirectoryName(_dir)!, true);

    [Test]
    public void OrdersByTimeWithStableTiesAndAppliesTheRatingThreshold()
    {
        File.WriteAllText(Path.Combine(_dir, "toy.inter"), "user_id:token\titem_id:token\trating:float\ttimestamp:float\nu1\t2\t5\t300\nu1\t1\t4\t100\nu1\t3\t1\t200\nu2\t1\t5\t50\nu2\t3\t5\t50\n");
        File.WriteAllText(Path.Combine(_dir, "toy.item"), "item_id:token\tmovie_title:token_seq\tclass:token_seq\n1\tToy Story\tAnimation\n2\tHeat\tAction\n3\tJumanji\t\n");
        InteractionDataset all = RecBoleAtomicReader.Load(_dir);
        Assert.That(all.Sequences[0].Select(i => all.Items[i].Id), Is.EqualTo(new[] { "1", "3", "2" }));
        Assert.That(all.Sequences[1].Select(i => all.Items[i].Id), Is.EqualTo(new[] { "1", "3" }), "equal timestamps keep file order");
        Assert.That(all.Items[0].ToText(), Is.EqualTo("title: Toy Story; class: Animation"));
        InteractionDataset liked = RecBoleAtomicReader.Load(_dir, minRating: 4);
        Assert.That(liked.Sequences[0].Select(i => liked.Items[i].Id), Is.EqualTo(new[] { "1", "2" }));
    }

    [Test]
    public void AnInterFilePathIsReadLikeItsFolderEvenBesideAnotherDataset()
    {
        File.WriteAllText(Path.Combine(_dir, "toy.inter"), "user_id:token\titem_id:token\ttimestamp:float\nu1\t1\t1\nu1\t2\t2\nu2\t2\t1\n");
        File.WriteAllText(Path.Combine(_dir, "toy.item"), "item_id:token\ttitle:token_seq\n1\tToy Story\n2\tHeat\n");
        File.WriteAllText(Path.Combine(_dir, "other.inter"), "user_id:token\titem_id:token\nu9\t9\n");
        string file = Path.Combine(_dir, "toy.inter");

        Assert.That(DatasetReader.Detect(file), Is.EqualTo(DatasetFormat.RecBole));
        InteractionDataset data = DatasetReader.Load(file);
        Assert.That(data.Users, Is.EqualTo(new[] { "u1", "u2" }));
        Assert.That(data.Items.Select(i => i.Title), Is.EqualTo(new[] { "Toy Story", "Heat" }), "the .item file beside it");
        Assert.That(() => DatasetReader.Load(_dir), Throws.InstanceOf<NotSupportedException>(), "the folder alone is ambiguous with two .inter files");
    }

    [Test]
    public void BadRowsNameFileLineAndField()
    {
        File.WriteAllText(Path.Combine(_dir, "toy.inter"), "user_id:token\titem_id:token\ttimestamp:float\nu1\t1\tsoon\n");
        Assert.That(Assert.Throws<DataFormatException>(() => RecBoleAtomicReader.Load(_dir))!.Message, Does.Contain("toy.inter:2: field 'timestamp'"));
        File.WriteAllText(Path.Combine(_dir, "toy.inter"), "user:token\titem_id:token\nu1\t1\n");
        Assert.That(Assert.Throws<DataFormatException>(() => RecBoleAtomicReader.Load(_dir))!.Message, Does.Contain("missing column 'user_id'"));
    }
}
