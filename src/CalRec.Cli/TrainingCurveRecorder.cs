using System.Diagnostics;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.SasRec;
using CalRec.Reports.Curves;

namespace CalRec.Cli;

/// <summary>
/// Writes a training run's curve beside its model as the trainer reports it (<c>OUT.metrics.jsonl</c>, the file
/// <c>calrec report html</c> draws from). A fresh run replaces an older file; a resumed run appends, its clock continuing
/// from the last point written.
/// </summary>
internal sealed class TrainingCurveRecorder : IDisposable
{
    private readonly string _model;
    private readonly bool _append;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly double _offset;
    private TrainingCurveWriter? _writer;

    public TrainingCurveRecorder(string model, bool resume)
    {
        _model = model;
        string path = TrainingCurveFile.PathFor(model);
        _append = resume && File.Exists(path);
        if (_append)
        {
            _offset = TrainingCurveFile.Read(path).Select(p => p.Seconds).DefaultIfEmpty(0).Max();
        }
        else if (File.Exists(path))
        {
            File.Delete(path);
        }
    }

    /// <summary>A sink that records each CALRec step, then hands it to <paramref name="inner"/>.</summary>
    public IProgress<CalRecProgress> Around(IProgress<CalRecProgress> inner) => new Sink<CalRecProgress>(e =>
    {
        Write(TrainingCurvePoints.From(e, Seconds));
        inner.Report(e);
    });

    /// <summary>A sink that records each SASRec epoch.</summary>
    public IProgress<SasRecEpochReport> SasRec() => new Sink<SasRecEpochReport>(e => Write(TrainingCurvePoints.From(e, Seconds)));

    public void Dispose() => _writer?.Dispose();

    private double Seconds => _offset + _clock.Elapsed.TotalSeconds;

    private void Write(TrainingCurvePoint point)
    {
        // Opened at the first point, so that a trainer that reports nothing leaves no file.
        _writer ??= TrainingCurveFile.Create(_model, _append);
        _writer.Append(point);
    }

    // Reports on the training thread as the step happens (System.Progress<T> would post to the thread pool, out of order).
    private sealed class Sink<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
