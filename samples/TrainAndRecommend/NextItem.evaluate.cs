using CalRec.MLNet;
using CalRec.Recommenders.Evaluation;
using Microsoft.ML;

namespace TrainAndRecommend;

public static partial class NextItem
{
    /// <summary>
    /// Full-ranking metrics on the leave-one-out test cases (each user's last item, which training never saw), next to
    /// MostPopular's as the baseline.
    /// </summary>
    public static (RecommendationMetrics Model, RecommendationMetrics MostPopular) Evaluate(MLContext mlContext, ITransformer model, IDataView interactions, IDataView items)
    {
        IDataView test = mlContext.SequentialRecommendation().Data.LeaveOneOutTestSet(interactions);
        ITransformer popularity = mlContext.SequentialRecommendation().Trainers.MostPopular(new MostPopularEstimatorOptions { Items = items, TopK = 5 }).Fit(interactions);
        return (mlContext.SequentialRecommendation().Evaluate(model.Transform(test), ks: [5]),
            mlContext.SequentialRecommendation().Evaluate(popularity.Transform(test), ks: [5]));
    }
}
