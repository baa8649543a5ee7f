using CalRec.Data;
using Microsoft.ML;

namespace CalRec.MLNet.Tests;

public sealed class SchemaErrorTests
{
    private sealed class WrongItemType
    {
        public string UserId { get; set; } = "";

        public bool ItemId { get; set; }
    }

    private sealed class NoItem
    {
        public string UserId { get; set; } = "";
    }

    private sealed class TextHistory
    {
        public string UserId { get; set; } = "";

        public string History { get; set; } = "";
    }

    [Test]
    public void AMissingOrMistypedColumnIsNamedWithTheTypeExpectedAtFitAndGetOutputSchema()
    {
        var ml = new MLContext(seed: 1);
        SequentialRecommenderEstimator estimator = ml.SequentialRecommendation().Trainers.MostPopular();

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(ml.View(new[] { new NoItem { UserId = "u" } })))!;
        Assert.That(missing.Message, Does.Contain("column 'ItemId' not found").And.Contain("text or a number").And.Contain("'UserId'"));
        var mistyped = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(ml.View(new[] { new WrongItemType { UserId = "u" } })))!;
        Assert.That(mistyped.Message, Does.Contain("column 'ItemId' has type Boolean").And.Contain("expected text or a number"));
        var shape = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(Tables.Shape<NoItem>(ml)))!;
        Assert.That(shape.Message, Does.Contain("column 'ItemId' not found"));

        var renamed = ml.SequentialRecommendation().Trainers.MostPopular(new MostPopularEstimatorOptions { ItemIdColumnName = "ProductId" });
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => renamed.Fit(ml.View(Tables.Interactions(Tables.Synthetic(3)))))!.Message,
            Does.Contain("column 'ProductId' not found"));
    }

    [Test]
    public void AHistoryOfTheWrongTypeIsRefusedWithTheFix()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(10);
        SequentialRecommendationTransformer model = ml.SequentialRecommendation().Trainers.MostPopular().Fit(ml.View(Tables.Interactions(data)));
        IDataView texts = ml.View(new[] { new TextHistory { UserId = "u", History = $"{data.Items[0].Id} {data.Items[1].Id}" } });

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(texts))!;
        Assert.That(error.Message, Does.Contain("column 'History' has type text (string)").And.Contain("TokenizeIntoWords"));

        // The fix the message names: ML.NET's own tokenizer turns the text column into the vector the model reads.
        IDataView fixedUp = ml.Transforms.Text.TokenizeIntoWords("History", separators: [' ']).Fit(texts).Transform(texts);
        string[] predicted = ml.Data.CreateEnumerable<ModelOutput>(model.Transform(fixedUp), false).Single().PredictedItemIds;
        Assert.That(predicted, Has.Length.EqualTo(10).And.No.Member(data.Items[0].Id));
    }

    [Test]
    public void UnknownItemsEmptyIdsAndDuplicatedCatalogueRowsNameTheRowAndColumn()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(5);
        List<InteractionRow> rows = Tables.Interactions(data);
        rows[6] = new InteractionRow { UserId = rows[6].UserId, ItemId = "no-such-item", Timestamp = 1 };
        var options = new MostPopularEstimatorOptions { Items = ml.View(Tables.Items(data)) };

        var unknown = Assert.Throws<InvalidDataException>(() => ml.SequentialRecommendation().Trainers.MostPopular(options).Fit(ml.View(rows)))!;
        Assert.That(unknown.Message, Is.EqualTo("interactions table, row 7, column 'ItemId': item 'no-such-item' is not in the item catalogue (Items)."));

        rows[6] = new InteractionRow { UserId = "", ItemId = data.Items[0].Id };
        Assert.That(Assert.Throws<InvalidDataException>(() => ml.SequentialRecommendation().Trainers.MostPopular().Fit(ml.View(rows)))!.Message,
            Is.EqualTo("interactions table, row 7, column 'UserId': empty id."));

        List<ItemRow> items = Tables.Items(data);
        items[3] = new ItemRow { ItemId = items[2].ItemId, Title = "copy" };
        options.Items = ml.View(items);
        Assert.That(Assert.Throws<InvalidDataException>(() => ml.SequentialRecommendation().Trainers.MostPopular(options).Fit(ml.View(Tables.Interactions(data))))!.Message,
            Is.EqualTo($"item catalogue (Items), row 4, column 'ItemId': duplicated item id '{items[2].ItemId}'."));
    }

    [Test]
    public void ATableWithoutUsableHistoriesIsRefusedWithCounts()
    {
        var ml = new MLContext(seed: 1);
        IDataView singles = ml.View(Enumerable.Range(0, 5).Select(u => new InteractionRow { UserId = $"u{u}", ItemId = $"i{u}" }));
        IDataView pairs = ml.View(Enumerable.Range(0, 10).Select(r => new InteractionRow { UserId = $"u{r / 2}", ItemId = $"i{r}", Timestamp = r }));

        var none = Assert.Throws<InvalidDataException>(() => ml.SequentialRecommendation().Trainers.MostPopular().Fit(singles))!;
        Assert.That(none.Message, Does.Contain("none of its 5 users has 3 or more interactions"));
        Assert.Throws<InvalidDataException>(() => ml.SequentialRecommendation().Trainers.MostPopular().Fit(pairs));
        Assert.DoesNotThrow(() => ml.SequentialRecommendation().Trainers.MostPopular(new MostPopularEstimatorOptions { HoldOutTestItem = false }).Fit(pairs), "pairs are enough for a production model");
    }
}
