Feature: Wrap-up
  After an incoming queue call the agent is in wrap-up (wrap-up is REQUIRED in the default
  roster, with a 60 s timer): WORK_READY when it was READY before the call, WORK when
  NOT_READY was asked during it. Internal calls (a consult) are not wrapped up. The agent picks a wrap-up reason and ends wrap-up, or the timer does.

  Background:
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |

  @browser
  Scenario: The agent ends the call, picks a wrap-up reason and goes READY
    Given agent 1001 is talking to a customer
    When agent 1001 ends the call
    Then agent 1001's phone hangs up
    And agent 1001 is WORK_READY in the app and in Finesse
    And agent 1001's app shows the call in wrap-up
    And agent 1001's app and Finesse list the wrap-up reasons Resolved, Escalated
    When agent 1001 picks the wrap-up reason "Resolved"
    Then agent 1001's call has the wrap-up reason "Resolved" in the app and in Finesse
    When agent 1001 goes READY
    Then agent 1001 is READY in the app and in Finesse
    And agent 1001 has no call in the app and in Finesse

  Scenario: The agent changes the wrap-up reason
    Given agent 1001 is talking to a customer
    When agent 1001 ends the call
    And agent 1001 picks the wrap-up reason "Resolved"
    Then agent 1001's call has the wrap-up reason "Resolved" in the app and in Finesse
    When agent 1001 picks the wrap-up reason "Escalated"
    Then agent 1001's call has the wrap-up reason "Escalated" in the app and in Finesse
    And agent 1001 is WORK_READY in the app and in Finesse

  Scenario: The wrap-up timer puts the agent READY
    Given the simulator clock runs 100 times faster
    And agent 1001 is talking to a customer
    When agent 1001 ends the call
    Then agent 1001 is WORK_READY in the app
    And within 5 seconds agent 1001 is READY in the app and in Finesse
    And agent 1001 has no call in the app and in Finesse

  Scenario: After a call during which NOT_READY was asked, wrap-up leads to NOT_READY
    Given the simulator clock runs 100 times faster
    And agent 1001 is talking to a customer
    When agent 1001 goes NOT_READY with reason "Break"
    Then agent 1001 has the pending state NOT_READY in the app and in Finesse
    When agent 1001 ends the call
    Then agent 1001 is WORK in the app
    And within 5 seconds agent 1001 is NOT_READY with reason "Break" in the app and in Finesse
