using Tally.Core.Events;

namespace Tally.Core.Process;

/// <summary>Flags events whose user agent is on the robot list. Events without a user agent are not judged.</summary>
public sealed class RobotFlagProcessor(RobotList robots) : IEventProcessor
{
    public bool Process(TallyEvent e)
    {
        if (e[WellKnownFields.UserAgent] is string userAgent && robots.IsRobot(userAgent))
            e.IsRobot = true;
        return true;
    }
}
