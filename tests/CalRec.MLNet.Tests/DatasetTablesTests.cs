using CalRec.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet.Tests;

public sealed class DatasetTablesTests
{
    [Test]
    public void DatasetsThatReuseIdsKeepTheFirstDatasetsIdsAndQualifyTheOthers()
    {
        var movies = InteractionDataset.Create("movies", [new("1", "Heat", ""), new("2", "Alien", "")],
            [new UserSequence("7", ["1", "2"], null)]);
        var shop = InteractionDataset.Create("shop", [new("1", "Pen", ""), new("2", "Ink", "")],
            [new UserSequence("7", ["2", "1", "2"], null)]);
        var ml = new MLContext(seed: 1);

        InteractionTables tables = ml.SequentialRecommendation().Data.FromDatasets([movies, shop]);

        string[] items = [.. tables.Items.GetColumn<string>("ItemId")];
        Assert.That(items, Is.EqualTo(new[] { "1", "2", "shop/1", "shop/2" }));
        Assert.That(tables.Items.GetColumn<string>("Domain").Distinct(), Is.EqualTo(new[] { "movies", "shop" }));
        Assert.That(tables.Interactions.GetColumn<string>("UserId"), Is.EqualTo(new[] { "7", "7", "shop/7", "shop/7", "shop/7" }));
        Assert.That(tables.Interactions.GetColumn<string>("ItemId"), Is.EqualTo(new[] { "1", "2", "shop/2", "shop/1", "shop/2" }));
    }
}
