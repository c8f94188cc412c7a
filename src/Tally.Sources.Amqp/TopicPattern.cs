namespace Tally.Sources.Amqp;

/// <summary>An AMQP topic pattern: words separated by '.', where '*' is exactly one word and '#' is zero or more.</summary>
public sealed class TopicPattern
{
    private readonly string[] _words;

    /// <exception cref="FormatException">A word is empty, or mixes '*' or '#' with other characters.</exception>
    public TopicPattern(string pattern)
    {
        if (string.IsNullOrEmpty(pattern)) throw new FormatException("a topic pattern must not be empty");
        _words = pattern.Split('.');
        foreach (var word in _words)
        {
            if (word.Length == 0) throw new FormatException($"'{pattern}' has an empty word");
            if (word is not ("*" or "#") && word.AsSpan().IndexOfAny('*', '#') >= 0)
                throw new FormatException($"'{pattern}': '*' and '#' must stand alone as a word");
        }
        Pattern = pattern;
    }

    public string Pattern { get; }

    public bool Matches(string topic) => Matches(0, topic.Split('.'), 0);

    private bool Matches(int word, string[] topic, int at)
    {
        if (word == _words.Length) return at == topic.Length;
        if (_words[word] == "#")
        {
            for (var next = at; next <= topic.Length; next++)
            {
                if (Matches(word + 1, topic, next)) return true;
            }
            return false;
        }
        return at < topic.Length && (_words[word] == "*" || _words[word] == topic[at]) && Matches(word + 1, topic, at + 1);
    }
}
