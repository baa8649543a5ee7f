using CalRec.Data;
using CalRec.Recommenders;
using CalRec.Recommenders.Persistence;
using CalRec.Recommenders.SasRec;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet.Tests;

public sealed class PersistenceTests
{
    private string _dir = null!;

    /// <summary>A history table as it comes from a delimited file: the history is one space-separated text column.</summary>
    public sealed class TextInput
    {
        public string UserId { get; set; } = "";

        public string HistoryText { get; set; } = "";
    }

    private sealed class PipelineOutput
    {
        public string UserId { get; set; } = "";

        public string[] Top { get; set; } = [];

        public float[] Scores { get; set; } = [];
    }

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("calrec-mlnet-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static (MLContext Ml, InteractionDataset Data, SequentialRecommendationTransformer Model) Trained()
    {
        var ml = new MLContext(seed: 1);
        InteractionDataset data = Tables.Synthetic(40);
        var options = new SasRecEstimatorOptions { Trainer = new SasRecTrainer.Options { Hidden = 16, MaxLength = 10, MaxEpochs = 2, Seed = 4 } };
        return (ml, data, ml.SequentialRecommendation().Trainers.SasRec(options).Fit(ml.View(Tables.Interactions(data))));
    }

    private static List<TextInput> Inputs(InteractionDataset data) =>
        Enumerable.Range(0, 25).Select(u => new TextInput { UserId = data.Users[u], HistoryText = string.Join(' ', data.Sequences[u].Select(i => data.Items[i].Id)) }).ToList();

    [Test]
    public void AWholePipelineWithMLNetTransformsAroundTheRecommenderRoundTripsThroughTheModelZip()
    {
        (MLContext ml, InteractionDataset data, SequentialRecommendationTransformer model) = Trained();
        IDataView input = ml.View(Inputs(data));
        // ML.NET's own transforms before (text -> vector of ids) and after (rename, drop) the recommender.
        ITransformer tokenize = ml.Transforms.Text.TokenizeIntoWords("History", "HistoryText", [' ']).Fit(input);
        ITransformer pipeline = tokenize.Append(model);
        IDataView scored = pipeline.Transform(input);
        pipeline = ((TransformerChain<SequentialRecommendationTransformer>)pipeline).Append(ml.Transforms.CopyColumns("Top", "PredictedItemIds").Fit(scored));
        var before = ml.Data.CreateEnumerable<PipelineOutput>(pipeline.Transform(input), false).ToList();

        string path = Path.Combine(_dir, "pipeline.zip");
        ml.SequentialRecommendation().SaveModel(pipeline, input.Schema, path);
        var other = new MLContext(seed: 2);
        ITransformer loaded = other.SequentialRecommendation().LoadModel(path, out DataViewSchema inputSchema);
        var after = other.Data.CreateEnumerable<PipelineOutput>(loaded.Transform(other.View(Inputs(data))), false).ToList();

        Assert.That(inputSchema.Select(c => c.Name), Is.EqualTo(new[] { "UserId", "HistoryText" }));
        Assert.That(after.Select(r => r.Top), Is.EqualTo(before.Select(r => r.Top)));
        Assert.That(after.Select(r => r.Scores), Is.EqualTo(before.Select(r => r.Scores)));
        Assert.That(before.Select(r => r.Top.Length), Is.All.EqualTo(10));
        Assert.That(((TransformerChain<ITransformer>)loaded).OfType<SequentialRecommendationTransformer>().Single().Model.Kind, Is.EqualTo(SasRecTrainer.ModelKind));
        Assert.That(Directory.GetFiles(_dir), Is.EqualTo(new[] { path }), "no temporary files left behind");
    }

    [Test]
    public void SerializeHistoryWritesWhatCalRecReadsAndTravelsBeforeTheRecommenderInTheModelZip()
    {
        (MLContext ml, InteractionDataset data, SequentialRecommendationTransformer model) = Trained();
        var catalogue = new CalRecEstimatorOptions { Items = ml.View(Tables.Items(data)), ItemTextColumnNames = ["Brand"] };
        const string Template = "title: {title}; brand: {brand}";
        var histories = Enumerable.Range(0, 12).Select(u => new ModelInput { UserId = data.Users[u], History = [.. data.Sequences[u].Select(i => data.Items[i].Id)] }).ToList();
        IDataView input = ml.View(histories);

        ITransformer serialize = ml.SequentialRecommendation().Transforms.SerializeHistory(catalogue, Template).Fit(input);
        ITransformer pipeline = serialize.Append(model).Append(ml.Transforms.Text.TokenizeIntoWords("Words", "HistoryText", [' ']).Fit(serialize.Append(model).Transform(input)));
        var before = ml.Data.CreateEnumerable<SerializedOutput>(pipeline.Transform(input), false).ToList();

        // Exactly the item texts CALRec renders for these items, each followed by the separator token.
        var template = Text.Templates.ItemTextTemplate.Parse(Template);
        var expected = histories.Select(h => string.Concat(h.History.Select(id => Recommenders.CalRec.ItemTextTable.Render(data.Items[data.IndexOf(id)!.Value], template) + "<|item|>")));
        Assert.That(before.Select(r => r.HistoryText), Is.EqualTo(expected));
        Assert.That(before[0].HistoryText, Does.StartWith("title: ").And.Contains("; brand: "));
        Assert.That(before.Select(r => r.PredictedItemIds.Length), Is.All.EqualTo(10), "the recommender still reads the History column");

        string path = Path.Combine(_dir, "serialize.zip");
        ml.SequentialRecommendation().SaveModel(pipeline, input.Schema, path);
        var other = new MLContext(seed: 3);
        ITransformer loaded = other.SequentialRecommendation().LoadModel(path, out _);
        var after = other.Data.CreateEnumerable<SerializedOutput>(loaded.Transform(other.View(histories)), false).ToList();
        Assert.That(after.Select(r => r.HistoryText), Is.EqualTo(before.Select(r => r.HistoryText)));
        Assert.That(after.Select(r => r.Words), Is.EqualTo(before.Select(r => r.Words)));
        Assert.That(after.Select(r => r.PredictedItemIds), Is.EqualTo(before.Select(r => r.PredictedItemIds)));

        Assert.That(() => ml.SequentialRecommendation().Transforms.SerializeHistory(new CalRecEstimatorOptions()), Throws.ArgumentException.With.Message.Contains("Items"));
        Assert.That(() => ml.SequentialRecommendation().Transforms.SerializeHistory(new CalRecEstimatorOptions { Items = catalogue.Items, ItemTextColumnNames = ["Colour"] }),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("Colour"));
    }

    private sealed class SerializedOutput
    {
        public string HistoryText { get; set; } = "";

        public string[] Words { get; set; } = [];

        public string[] PredictedItemIds { get; set; } = [];
    }

    [Test]
    public void PlainMLNetSaveAndLoadRefuseWithAMessageNamingOurs()
    {
        (MLContext ml, InteractionDataset data, SequentialRecommendationTransformer model) = Trained();
        IDataView input = ml.View(new[] { new ModelInput { UserId = "u", History = [data.Items[0].Id] } });
        string path = Path.Combine(_dir, "m.zip");

        var save = Assert.Throws<InvalidOperationException>(() => ml.Model.Save(model, input.Schema, Path.Combine(_dir, "plain.zip")))!;
        Assert.That(save.Message, Does.Contain("mlContext.SequentialRecommendation().SaveModel"));

        ml.SequentialRecommendation().SaveModel(model, input.Schema, path);
        Exception load = Assert.Catch(() => new MLContext().Model.Load(path, out _))!;
        Assert.That(Messages(load), Does.Contain("mlContext.SequentialRecommendation().LoadModel"));

        var reloaded = (SequentialRecommendationTransformer)ml.SequentialRecommendation().LoadModel(path, out DataViewSchema schema);
        Assert.That(reloaded.Columns, Is.EqualTo(model.Columns));
        Assert.That(schema.Select(c => c.Name), Is.EqualTo(new[] { "UserId", "History" }));
    }

    [Test]
    public void PredictionEngineGivesTheTransformOutputBeforeAndAfterReload()
    {
        (MLContext ml, InteractionDataset data, SequentialRecommendationTransformer model) = Trained();
        var inputs = Enumerable.Range(0, 8).Select(u => new ModelInput { UserId = data.Users[u], History = data.Sequences[u].Select(i => data.Items[i].Id).ToArray() }).ToList();
        var batch = ml.Data.CreateEnumerable<ModelOutput>(model.Transform(ml.View(inputs)), false).ToList();
        string path = Path.Combine(_dir, "m.zip");
        ml.SequentialRecommendation().SaveModel(model, ml.View(inputs).Schema, path);
        ITransformer reloaded = new MLContext().SequentialRecommendation().LoadModel(path, out _);

        foreach (ITransformer m in new[] { model, reloaded })
        {
            PredictionEngine<ModelInput, ModelOutput> engine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(m);
            for (int u = 0; u < inputs.Count; u++)
            {
                ModelOutput single = engine.Predict(inputs[u]);
                Assert.That(single.PredictedItemIds, Is.EqualTo(batch[u].PredictedItemIds), $"user {u}");
                Assert.That(single.Scores, Is.EqualTo(batch[u].Scores).Within(1e-5f), $"user {u}");
            }
        }
    }

    [Test]
    public void AModelZipOfTheEarlierFormatLoadsAsOneRecommender()
    {
        (MLContext ml, InteractionDataset data, SequentialRecommendationTransformer model) = Trained();
        string legacy = Path.Combine(_dir, "legacy.zip");
        new RecContext().Model.Save(model.Model, legacy);

        var loaded = (SequentialRecommendationTransformer)ml.SequentialRecommendation().LoadModel(legacy, out DataViewSchema schema);
        var input = new ModelInput { UserId = "u", History = [data.Items[3].Id, data.Items[4].Id] };
        ModelOutput a = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(loaded).Predict(input);
        ModelOutput b = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model).Predict(input);

        Assert.That(schema.Select(c => c.Name), Is.EqualTo(new[] { "UserId", "History" }));
        Assert.That(a.PredictedItemIds, Is.EqualTo(b.PredictedItemIds));
    }

    [Test]
    public void SavingIntoAMissingFolderOrLoadingGarbageIsAClearError()
    {
        (MLContext ml, _, SequentialRecommendationTransformer model) = Trained();
        DataViewSchema schema = ml.View(Array.Empty<ModelInput>()).Schema;
        var missing = Assert.Throws<DirectoryNotFoundException>(() => ml.SequentialRecommendation().SaveModel(model, schema, Path.Combine(_dir, "nope", "m.zip")))!;
        Assert.That(missing.Message, Does.Contain("does not exist"));

        string garbage = Path.Combine(_dir, "garbage.zip");
        File.WriteAllText(garbage, "not a zip");
        var corrupt = Assert.Throws<ModelFormatException>(() => ml.SequentialRecommendation().LoadModel(garbage, out _))!;
        Assert.That(corrupt.Message, Does.StartWith(garbage + ": not a readable model zip"));
    }

    [Test]
    public void ASaveRemovesWhatAKilledSaveToTheSamePathLeftBehindAndNothingElse()
    {
        (MLContext ml, _, SequentialRecommendationTransformer model) = Trained();
        using (var finished = System.Diagnostics.Process.Start("true")!)
        {
            finished.WaitForExit();
            int dead = finished.Id;
            string staleFolder = Path.Combine(_dir, $".m.zip.stage-{dead}-aaaa");
            Directory.CreateDirectory(staleFolder);
            File.WriteAllText(Path.Combine(staleFolder, "half.bin"), "x");
            File.WriteAllText(Path.Combine(_dir, $".m.zip.tmp-{dead}-bbbb"), "x");
            string live = Path.Combine(_dir, $".m.zip.tmp-{Environment.ProcessId}-cccc");
            File.WriteAllText(live, "a save in progress in this process");
            string other = Path.Combine(_dir, $".other.zip.tmp-{dead}-dddd");
            File.WriteAllText(other, "another path's");

            ml.SequentialRecommendation().SaveModel(model, ml.View(Array.Empty<ModelInput>()).Schema, Path.Combine(_dir, "m.zip"));

            Assert.That(Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { Path.GetFileName(live), Path.GetFileName(other), "m.zip" }.Order()));
        }
    }

    private static string Messages(Exception e) => e.InnerException is null ? e.Message : e.Message + " | " + Messages(e.InnerException);
}
