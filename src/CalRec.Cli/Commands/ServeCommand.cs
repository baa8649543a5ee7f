using System.CommandLine;
using CalRec.Recommenders;
using CalRec.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec serve</c>: the HTTP endpoint over a saved model, until Ctrl+C.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new RecommendationServerOptions();
        var model = new Option<string>("--model") { Description = "Model zip from calrec train.", Required = true };
        var urls = new Option<string>("--urls") { Description = "Addresses to listen on, separated by commas (port 0: any free port).", DefaultValueFactory = _ => "http://127.0.0.1:5080" };
        var k = new Option<int>("--k") { Description = "Items per answer when a request gives no k.", DefaultValueFactory = _ => defaults.DefaultK };
        var maxK = new Option<int>("--max-k") { Description = "Largest k a request may ask for.", DefaultValueFactory = _ => defaults.MaxK };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most users in one POST /recommend/batch.", DefaultValueFactory = _ => defaults.MaxBatchUsers };
        var log = new Option<bool>("--log-requests") { Description = "Log every request (ASP.NET Core information logging)." };
        var cmd = new Command("serve", "Serve a model over HTTP: GET /health, POST /recommend, GET /recommend?history=a,b, POST /recommend/batch.")
        {
            model, urls, k, maxK, maxBatch, log,
        };
        cmd.SetAction(async (p, ct) =>
        {
            WebApplication? app = null;
            try
            {
                if (p.GetValue(k) <= 0 || p.GetValue(maxK) < p.GetValue(k) || p.GetValue(maxBatch) <= 0)
                {
                    throw new ArgumentException("--k must be positive and at most --max-k; --max-batch must be positive.");
                }

                MLNet.SequentialRecommendationTransformer recommender = ModelFiles.LoadRecommender(p.GetValue(model)!);
                RecommenderModel m = recommender.Model;
                var options = new RecommendationServerOptions { DefaultK = p.GetValue(k), MaxK = p.GetValue(maxK), MaxBatchUsers = p.GetValue(maxBatch) };
                string[] bind = p.GetValue(urls)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                app = RecommendationServer.Create(recommender, bind, options, p.GetValue(log) ? LogLevel.Information : LogLevel.Warning);
                await app.StartAsync(ct);
                AnsiConsole.MarkupLineInterpolated($"serving {m.Kind} model ({m.ItemCount:N0} items) on [green]{string.Join(", ", app.Urls)}[/]; Ctrl+C stops");
                await Task.Delay(Timeout.Infinite, ct);
                return 0;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                AnsiConsole.MarkupLine("stopping: finishing requests in flight");
                return 0;
            }
            catch (IOException ex) when (app is not null)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] cannot listen on {p.GetValue(urls)}: {ex.Message}");
                return UserErrors.ExitCode;
            }
            catch (Exception ex) when (UserErrors.Is(ex))
            {
                return UserErrors.Report(ex);
            }
            finally
            {
                if (app is not null)
                {
                    await app.StopAsync(CancellationToken.None);
                    await app.DisposeAsync();
                }
            }
        });
        return cmd;
    }
}
