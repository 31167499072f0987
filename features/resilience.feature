Feature: Resilience
  Faults and attacks the connector must live through: the notification service drops, a
  notification is lost, someone guesses an agent's password, Finesse logs an agent out
  behind the app's back. The agent keeps working, or is told plainly that the session ended.

  Scenario: The notification service drops mid-call, and the call goes on
    Given these agents are logged in through the app:
      | agent | mode         |
      | 1001  | CALL_BY_CALL |
    And agent 1001 is talking to a customer
    When Finesse's notification service drops every connection
    Then agent 1001's app saw the notifications reconnect
    And agent 1001 is talking to the customer in the app and in Finesse
    When agent 1001 puts the call on hold
    Then agent 1001's app shows the call on hold

  Scenario: A lost notification is repaired by the connector's periodic re-read
    Given the connector re-reads every agent from Finesse every 1 seconds
    And these agents are logged in through the app:
      | agent | mode         |
      | 1001  | CALL_BY_CALL |
    When Finesse loses the next 1 notification
    And agent 1001 tries to go READY
    Then it is accepted
    And agent 1001 is READY in the app and in Finesse

  Scenario: Someone guessing the password never locks the working agent out
    Given these agents are logged in through the app:
      | agent | mode         |
      | 1001  | CALL_BY_CALL |
    When someone tries to log in as agent 1001 with the password guess 10 times
    Then it is refused with 429 too_many_attempts
    And Finesse accepts agent 1001's password
    And agent 1001 is NOT_READY in the app and in Finesse
    When agent 1001 goes READY
    Then agent 1001 is READY in the app and in Finesse

  Scenario: An agent logged out in Finesse is told in the app that the session ended
    Given these agents are logged in through the app:
      | agent | mode |
      | 1001  | desk |
    When agent 1001 is logged out in Finesse from the desktop
    Then agent 1001's app shows the session ended: logged_out
    And agent 1001 is LOGOUT in Finesse
    And the connector holds 0 sessions
