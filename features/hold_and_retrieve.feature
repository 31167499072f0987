Feature: Hold and retrieve
  The agent puts the customer on hold from the app and takes the call back.

  Background:
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |

  @browser
  Scenario: The agent puts the customer on hold and takes the call back
    Given agent 1001 is talking to a customer
    When agent 1001 puts the call on hold
    Then agent 1001's app shows the call on hold
    And agent 1001's phone is on hold
    And agent 1001 is HOLD in the app and in Finesse
    And agent 1001's app offers RETRIEVE on the call
    And agent 1001's call has these participants in the app and in Finesse:
      | participant | state  |
      | customer    | ACTIVE |
      | agent 1001  | HELD   |
    When agent 1001 retrieves the call
    Then agent 1001's phone is connected
    And agent 1001 is TALKING in the app and in Finesse
    And agent 1001 is talking to the customer in the app and in Finesse

  Scenario: A ringing call cannot be put on hold
    Given agent 1001 is READY
    When a customer calls 8000
    Then agent 1001's app shows an incoming call
    When agent 1001 tries to put the call on hold
    Then it is refused with 409 action_not_allowed
    And agent 1001 is RESERVED in the app and in Finesse

  Scenario: A held call cannot be held again
    Given agent 1001 is talking to a customer
    When agent 1001 puts the call on hold
    Then agent 1001 is HOLD in the app and in Finesse
    When agent 1001 tries to put the call on hold
    Then it is refused with 409 action_not_allowed
    And agent 1001 is HOLD in the app and in Finesse

  Scenario: Hold and retrieve twice in a row
    Given agent 1001 is talking to a customer
    When agent 1001 puts the call on hold
    Then agent 1001 is HOLD in the app and in Finesse
    When agent 1001 retrieves the call
    Then agent 1001 is TALKING in the app and in Finesse
    When agent 1001 puts the call on hold
    Then agent 1001 is HOLD in the app and in Finesse
    When agent 1001 retrieves the call
    Then agent 1001 is talking to the customer in the app and in Finesse
