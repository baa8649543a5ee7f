// CALRec through ML.NET on the generated demo catalogue, as the design card reads: the catalogue's text goes through
// ML.NET's own text normalization, CALRec trains its backbone from scratch (stage 0), finetunes on the mixture of the
// three domains (stage 1, from the Domain column) and on the target domain (stage 2) with the LM loss plus the two
// contrastive losses; it is evaluated on held-out items against MostPopular, saved as one ML.NET model zip that reads as
// the design card does (tokenize the history text, serialize it with the item template, CALRec, ground the generated
// item texts in the catalogue with BM25), reloaded and asked for one user.
// Usage: dotnet run --project samples/CalRecTwoStage -c Release   (about 2 minutes on 2 cores)
using CalRec.MLNet;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.CalRec;
using Microsoft.ML;
using Microsoft.ML.Transforms.Text;

var mlContext = new MLContext(seed: 42);
mlContext.Log += (_, e) =>
{
    if (e.Message.Contains("validation NDCG@10", StringComparison.Ordinal))
    {
        Console.WriteLine($"  {e.Message}");
    }
};
InteractionTables demo = mlContext.SequentialRecommendation().Data.GenerateDemo(usersPerDomain: 400);
IDataView items = mlContext.Transforms.Text.NormalizeText("Title", caseMode: TextNormalizingEstimator.CaseMode.Lower).Fit(demo.Items).Transform(demo.Items);

var options = new CalRecEstimatorOptions
{
    Items = items,
    ItemTextColumnNames = ["Brand", "Category"],
    TargetDomain = "office",
    TopK = 5,
    Trainer = new CalRecTrainer.Options
    {
        Backbone = "mini",
        Template = "title: {title}; brand: {brand}; category: {category}",
        Pooling = Pooling.LastToken,
        VocabularySize = 1024,
        PretrainSteps = 150,
        MaxItemTokens = 24,
        Stage1 = new CalRecStageOptions { Epochs = 1, LearningRate = 1e-3f },
        Stage2 = new CalRecStageOptions { Epochs = 2, LearningRate = 1e-3f },
        MixtureSampling = MixtureSampling.Temperature,
        MaxHistory = 8,
        Members = 1,
        Seed = 42,
    },
};
SequentialRecommendationTransformer calrec = mlContext.SequentialRecommendation().Trainers.CalRec(options).Fit(demo.Interactions);

IDataView test = mlContext.SequentialRecommendation().Data.LeaveOneOutTestSet(demo.Interactions, options, domain: "office");
ITransformer popularity = mlContext.SequentialRecommendation().Trainers.MostPopular(new MostPopularEstimatorOptions { Items = items, TopK = 5 })
    .Fit(OfficeInteractions(mlContext, demo));
Console.WriteLine($"CALRec      NDCG@5 {mlContext.SequentialRecommendation().Evaluate(calrec.Transform(test), ks: [5])["ndcg@5"]}");
Console.WriteLine($"MostPopular NDCG@5 {mlContext.SequentialRecommendation().Evaluate(popularity.Transform(test), ks: [5])["ndcg@5"]}");

// The served pipeline takes histories as space-separated text (as a CSV or database column holds them): tokenize,
// serialize with CALRec's item template (the text CALRec reads, kept as a column), recommend, ground by BM25 over the
// generated item texts.
IDataView textInput = mlContext.Data.LoadFromEnumerable(Array.Empty<TextInput>());
ITransformer tokenize = mlContext.Transforms.Text.TokenizeIntoWords("History", nameof(TextInput.HistoryText), [' ']).Fit(textInput);
ITransformer serialize = mlContext.Transforms.SerializeHistory(options, options.Trainer.Template).Fit(tokenize.Transform(textInput));
ITransformer grounded = mlContext.Transforms.GroundItems(calrec, new CalRec.Recommenders.Grounding.GroundingOptions { Path = CalRec.Recommenders.Grounding.GroundingPath.Bm25, Candidates = 2 })
    .Fit(test);
ITransformer pipeline = tokenize.Append(serialize).Append(grounded);
string path = Path.Combine(Path.GetTempPath(), "calrec-sample-two-stage.zip");
mlContext.SequentialRecommendation().SaveModel(pipeline, textInput.Schema, path);

var reloadedContext = new MLContext();
ITransformer reloaded = reloadedContext.SequentialRecommendation().LoadModel(path, out _);
var engine = reloadedContext.Model.CreatePredictionEngine<TextInput, ModelOutput>(reloaded);
EvaluationRow someone = mlContext.Data.CreateEnumerable<EvaluationRow>(test, reuseRowObject: false).First();
var input = new TextInput { UserId = someone.UserId, HistoryText = string.Join(' ', someone.History.TakeLast(3)) };
ModelOutput output = engine.Predict(input);
Console.WriteLine($"serialized: {output.SerializedHistory[..Math.Min(120, output.SerializedHistory.Length)]}...");
Console.WriteLine($"after [{input.HistoryText}] (BM25-grounded): {string.Join(", ", output.PredictedItemIds.Zip(output.Scores, (id, s) => $"{id} ({s:F2})"))}");

// MostPopular on the target domain's interactions only (CALRec's stage 2 sees the same rows).
static IDataView OfficeInteractions(MLContext mlContext, InteractionTables demo)
{
    var office = mlContext.Data.CreateEnumerable<DemoItem>(demo.Items, false).Where(i => i.Domain == "office").Select(i => i.ItemId).ToHashSet();
    return mlContext.Data.LoadFromEnumerable(mlContext.Data.CreateEnumerable<DemoInteraction>(demo.Interactions, false).Where(r => office.Contains(r.ItemId)).ToList());
}

/// <summary>A history as one text of space-separated item ids.</summary>
internal sealed class TextInput
{
    public string UserId { get; set; } = "";

    public string HistoryText { get; set; } = "";
}

/// <summary>The recommended items.</summary>
internal sealed class ModelOutput
{
    [Microsoft.ML.Data.ColumnName("HistoryText")]
    public string SerializedHistory { get; set; } = "";

    public string[] PredictedItemIds { get; set; } = [];

    public float[] Scores { get; set; } = [];
}
